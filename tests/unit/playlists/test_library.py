"""Playlist files and the lyric-free rule, exclusions and the no-repeat queue.

Formats: TOML, and M3U with a TOML sidecar.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roomctl.playlists.library import (
    Library,
    choose_queue,
    load_library,
    load_playlist_file,
    track_matches,
)
from roomctl.playlists.model import (
    Lyrics,
    Phase,
    Playlist,
    PlaylistError,
    Track,
    lyric_problem,
)
from tests.unit.playlists.fakes import make_playlist, make_track


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


PEAK_TOML = """
[playlist]
phase = "peak"

[[track]]
path = "ambient/slow-tide.flac"
title = "Slow Tide"
artist = "A. Nonymous"
duration_s = 312
lyrics = "none"
intensity = 2

[[track]]
id = "choir-1"
path = "/srv/music/choir.flac"
title = "Wordless Choir"
lyrics = "instrumental"
phases = ["peak", "return"]
"""


# ---------------------------------------------------------------- model


def test_track_with_words_is_refused_naming_file_and_track() -> None:
    song = Track(
        id="s",
        path=Path("/m/song.mp3"),
        title="Night Song",
        lyrics=Lyrics.VOCALS,
        source="peak.toml: track 3",
    )
    assert lyric_problem(song) == (
        'peak.toml: track 3: track "Night Song" (/m/song.mp3): has words '
        '(lyrics = "vocals"); ambient playlists take lyric-free tracks only, '
        "so it is refused"
    )


def test_track_without_lyric_information_is_refused() -> None:
    unknown = Track(id="u", path=Path("/m/u.flac"), title="Unknown", source="x.m3u")
    problem = lyric_problem(unknown)
    assert problem is not None
    assert problem.startswith(
        'x.m3u: track "Unknown" (/m/u.flac): no lyric information'
    )
    assert 'lyrics = "none" or "instrumental"' in problem


@pytest.mark.parametrize("lyrics", [Lyrics.NONE, Lyrics.INSTRUMENTAL])
def test_lyric_free_markings_are_accepted(lyrics: Lyrics) -> None:
    track = Track(id="t", path=Path("/m/t.flac"), title="T", lyrics=lyrics)
    assert track.lyric_free
    assert lyric_problem(track) is None


def test_playlist_lists_every_refused_track_at_once() -> None:
    tracks = (
        make_track("ok.wav"),
        Track(id="a", path=Path("/m/a.flac"), title="A", lyrics=Lyrics.LYRICS),
        Track(id="b", path=Path("/m/b.flac"), title="B"),
    )
    with pytest.raises(PlaylistError) as caught:
        Playlist(phase=Phase.PEAK, tracks=tracks)
    assert len(caught.value.problems) == 2
    assert '"A"' in caught.value.problems[0]
    assert '"B"' in caught.value.problems[1]


def test_playlist_refuses_duplicate_ids() -> None:
    with pytest.raises(PlaylistError, match="appears twice"):
        Playlist(phase=Phase.PEAK, tracks=(make_track("a.wav"), make_track("a.wav")))


def test_track_intensity_must_be_one_to_five() -> None:
    with pytest.raises(ValueError, match="outside 1-5"):
        Track(id="t", path=Path("/t"), title="T", lyrics=Lyrics.NONE, intensity=6)


# ---------------------------------------------------------------- TOML


def test_toml_playlist_loads_and_resolves_relative_paths(tmp_path: Path) -> None:
    write(tmp_path / "peak.toml", PEAK_TOML)
    library = load_library(tmp_path, strict=True)
    peak = library.playlist(Phase.PEAK)
    first, second = peak.tracks
    assert first.path == tmp_path / "ambient" / "slow-tide.flac"
    assert first.id == "ambient/slow-tide.flac"  # default id: relative to the folder
    assert first.title == "Slow Tide"
    assert first.artist == "A. Nonymous"
    assert first.duration_s == 312.0
    assert first.intensity == 2
    assert first.lyrics is Lyrics.NONE
    assert second.path == Path("/srv/music/choir.flac")
    assert second.id == "choir-1"
    assert second.intensity == 3
    # listed in phases = ["peak", "return"]: it serves the return phase too
    assert [t.id for t in library.playlist(Phase.RETURN).tracks] == ["choir-1"]
    assert library.problems == ()


def test_toml_refusals_name_the_file_and_the_track(tmp_path: Path) -> None:
    write(
        tmp_path / "dosing.toml",
        """
[[track]]
path = "a.flac"
title = "Fine"
lyrics = "none"

[[track]]
path = "b.flac"
title = "Sung"
lyrics = "vocals"

[[track]]
path = "c.flac"
title = "Unsaid"
""",
    )
    library = load_library(tmp_path)
    assert [t.title for t in library.playlist(Phase.DOSING).tracks] == ["Fine"]
    sung, unsaid = library.problems
    assert str(tmp_path / "dosing.toml") in sung
    assert "track 2" in sung
    assert '"Sung"' in sung
    assert "has words" in sung
    assert "track 3" in unsaid
    assert '"Unsaid"' in unsaid
    assert "no lyric information" in unsaid
    with pytest.raises(PlaylistError) as caught:
        load_library(tmp_path, strict=True)
    assert caught.value.problems == [sung, unsaid]


def test_toml_field_errors_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path / "return.toml",
        """
[playlist]
phase = "peak"
[[track]]
path = "a.flac"
lyrics = "maybe"
[[track]]
path = "b.flac"
lyrics = "none"
intensity = 9
colour = "blue"
[[track]]
title = "No path"
lyrics = "none"
[[track]]
path = "d.flac"
lyrics = "none"
phases = ["closed"]
""",
    )
    problems = " | ".join(load_library(tmp_path).problems)
    assert "phase = 'peak' but the file is the return playlist" in problems
    assert "lyrics = 'maybe' is not one of" in problems
    assert "intensity must be a whole number 1-5" in problems
    assert "unknown key 'colour'" in problems
    assert "No path" in problems
    assert "no path" in problems
    assert "'closed' is not a music phase" in problems


def test_bad_toml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path / "peak.toml", "[[track]\npath = ")
    library = load_library(tmp_path)
    assert "not valid TOML" in library.problems[0]
    assert library.playlist(Phase.PEAK).tracks == ()


def test_missing_library_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PlaylistError, match="does not exist"):
        load_library(tmp_path / "nope")


def test_unrelated_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / "notes.toml", "x = 1")
    write(tmp_path / "closed.toml", "x = 1")
    library = load_library(tmp_path, strict=True)
    assert library.playlists == {}
    assert library.playlist(Phase.PEAK).tracks == ()


# ---------------------------------------------------------------- M3U


def test_m3u_with_sidecar(tmp_path: Path) -> None:
    write(
        tmp_path / "preparation.m3u",
        """#EXTM3U
#EXTINF:245,Hiroshi Somebody - Water Garden
music/water.flac
#EXTINF:-1,Just A Title
music/other.ogg

file:///srv/abs%20path/x.wav
""",
    )
    write(
        tmp_path / "preparation.meta.toml",
        """
[defaults]
lyrics = "instrumental"
intensity = 2

[tracks."music/other.ogg"]
title = "Better Title"
intensity = 1
""",
    )
    library = load_library(tmp_path, strict=True)
    water, other, absolute = library.playlist(Phase.PREPARATION).tracks
    assert water.path == tmp_path / "music" / "water.flac"
    assert (water.artist, water.title, water.duration_s) == (
        "Hiroshi Somebody",
        "Water Garden",
        245.0,
    )
    assert water.lyrics is Lyrics.INSTRUMENTAL
    assert water.intensity == 2
    assert other.title == "Better Title"
    assert other.duration_s is None  # -1: unknown
    assert other.intensity == 1
    assert absolute.path == Path("/srv/abs path/x.wav")


def test_m3u_without_sidecar_refuses_every_entry(tmp_path: Path) -> None:
    write(tmp_path / "peak.m3u8", "a.flac\nb.flac\n")
    library = load_library(tmp_path)
    assert library.playlist(Phase.PEAK).tracks == ()
    assert len(library.problems) == 2
    assert all("no lyric information" in p for p in library.problems)


def test_m3u_stream_and_orphan_sidecar_entry(tmp_path: Path) -> None:
    write(tmp_path / "peak.m3u", "https://radio.example/stream\nlocal.flac\n")
    write(
        tmp_path / "peak.meta.toml",
        '[defaults]\nlyrics = "none"\n[tracks."gone.flac"]\nintensity = 2\n',
    )
    library = load_library(tmp_path)
    assert [t.path.name for t in library.playlist(Phase.PEAK).tracks] == ["local.flac"]
    problems = " | ".join(library.problems)
    assert "streams are not supported" in problems
    assert "names no entry of peak.m3u" in problems


def test_one_playlist_per_phase(tmp_path: Path) -> None:
    write(tmp_path / "peak.toml", PEAK_TOML)
    write(tmp_path / "peak.m3u", "x.flac\n")
    library = load_library(tmp_path)
    assert "keep one playlist per phase" in library.problems[0]
    assert len(library.playlist(Phase.PEAK).tracks) == 2


def test_load_playlist_file(tmp_path: Path) -> None:
    file = write(
        tmp_path / "sub" / "integration.toml", PEAK_TOML.replace("peak", "integration")
    )
    library = load_playlist_file(file, root=tmp_path)
    assert (
        library.playlist(Phase.INTEGRATION).tracks[0].id == "sub/ambient/slow-tide.flac"
    )
    with pytest.raises(PlaylistError, match="must be a phase name"):
        load_playlist_file(write(tmp_path / "mix.toml", ""))


# ---------------------------------------------------------------- exclusions and queues


def test_track_matches_by_id_path_name_and_title() -> None:
    track = make_track("calm.wav")  # id calm.wav, path /music/calm.wav, title Calm
    assert track_matches(track, {"calm.wav"})
    assert track_matches(track, {"/music/calm.wav"})
    assert track_matches(track, {"CALM"})
    assert track_matches(track, {"title:calm"})
    assert track_matches(track, {"path:calm.wav"})
    assert not track_matches(track, {"id:calm"})
    assert not track_matches(track, {"title:calm.wav"})
    assert not track_matches(track, {"storm"})
    assert not track_matches(track, set())


PEAK = make_playlist(Phase.PEAK, "a.wav", "b.wav", "c.wav", "d.wav", "e.wav")


def test_queue_is_a_seeded_shuffle() -> None:
    first = choose_queue(PEAK, heard=set(), excluded=set(), seed="session-1")
    again = choose_queue(PEAK, heard=set(), excluded=set(), seed="session-1")
    assert first == again
    orders = {
        tuple(
            t.id for t in choose_queue(PEAK, heard=set(), excluded=set(), seed=s).tracks
        )
        for s in range(20)
    }
    assert len(orders) > 5
    assert sorted(t.id for t in first.tracks) == [t.id for t in PEAK.tracks]
    assert not first.repeats
    assert first.reason == ""


def test_queue_skips_heard_and_excluded_tracks() -> None:
    queue = choose_queue(PEAK, heard={"a.wav", "b.wav"}, excluded={"title:E"}, seed=0)
    assert sorted(t.id for t in queue.tracks) == ["c.wav", "d.wav"]
    assert not queue.repeats


def test_queue_repeats_when_everything_was_heard_but_never_exclusions() -> None:
    heard = {t.id for t in PEAK.tracks}
    queue = choose_queue(PEAK, heard=heard, excluded={"c.wav"}, seed=0)
    assert queue.repeats
    assert sorted(t.id for t in queue.tracks) == ["a.wav", "b.wav", "d.wav", "e.wav"]
    assert (
        "all 4 playable tracks of the peak playlist were heard before" in queue.reason
    )
    assert "rather than playing silence" in queue.reason


def test_queue_is_empty_with_a_reason_when_nothing_may_play() -> None:
    everything = {t.id for t in PEAK.tracks}
    queue = choose_queue(PEAK, heard=set(), excluded=everything, seed=0)
    assert queue.tracks == ()
    assert "excluded for this patient" in queue.reason
    empty = Library().playlist(Phase.RETURN)
    queue = choose_queue(empty, heard=set(), excluded=set(), seed=0)
    assert queue.tracks == ()
    assert "no music for the return phase" in queue.reason
