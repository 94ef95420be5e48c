"""Phase playlists and the music player port.

- ``model``: ``Track``, ``Playlist`` and the lyric-free rule (pure).
- ``library``: playlists from files (TOML, M3U + sidecar), exclusions and the no-repeat
  queue (pure apart from reading files).
- ``synth``: the built-in generated ambient library (numpy; cached WAV files).
- ``ramp``: volume ramps and equal-power crossfade curves (pure).
- ``player``: the ``MusicPlayer`` port (two decks) and ``PlayerState``.
- ``vlc_player``: the libVLC adapter (imports python-vlc only when opened).
- ``controller``: ``MusicController``, what the scene director drives.
- ``settings``: ``MusicSettings``, the ``[music]`` table (pydantic only).

Nothing is imported here: ``roomctl.settings`` imports ``roomctl.playlists.settings``
without pulling in numpy, asyncio or libVLC.
"""
