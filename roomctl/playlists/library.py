"""Phase playlists from files, exclusions and the no-repeat queue.

Pure apart from reading playlist files: no audio is opened here, and a missing audio
file is the player's business (it is skipped with a notice when its turn comes).

A library is a folder with at most one playlist per phase, named after the phase:

``<phase>.toml``
    ``[[track]]`` tables. Keys: ``path`` (required; relative paths are resolved against
    the folder), ``title`` (default: the file name), ``id`` (default: the path relative
    to the folder), ``artist``, ``duration_s``, ``lyrics`` (``"none"`` or
    ``"instrumental"``; ``"vocals"``/``"lyrics"`` and a missing key are refused),
    ``intensity`` (1-5, default 3), ``phases`` (further phases the track suits; it is
    added to their playlists too) and ``source``. An optional ``[playlist]`` table may
    name the ``phase`` (it must match the file name)::

        [[track]]
        path = "ambient/slow-tide.flac"
        title = "Slow Tide"
        lyrics = "none"
        intensity = 2

``<phase>.m3u`` / ``<phase>.m3u8``
    A plain or extended M3U (``#EXTINF:<seconds>,<artist> - <title>``). M3U says nothing
    about lyrics, so a sidecar ``<phase>.meta.toml`` must: a ``[defaults]`` table
    applied to every entry and ``[tracks."<path as written in the M3U>"]`` tables,
    both with the keys above (except ``path``). Without it every entry has no lyric
    information and is refused.

Files that name no phase (``notes.txt``, ``extra.toml``) are ignored.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from roomctl.playlists.model import (
    INTENSITY_RANGE,
    MUSIC_PHASES,
    Lyrics,
    Phase,
    Playlist,
    PlaylistError,
    Track,
    lyric_problem,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from collections.abc import Set as AbstractSet

__all__ = [
    "Library",
    "TrackQueue",
    "choose_queue",
    "load_library",
    "load_playlist_file",
    "track_matches",
]

_TRACK_KEYS = frozenset(
    {
        "id",
        "path",
        "title",
        "artist",
        "duration_s",
        "lyrics",
        "phases",
        "intensity",
        "source",
    }
)
_PLAYLIST_KEYS = frozenset({"phase", "generator", "description"})
_M3U_SUFFIXES = (".m3u", ".m3u8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Library:
    """Playlists by phase, plus what was refused while loading them."""

    #: Only phases that have a playlist file (possibly empty after refusals).
    playlists: Mapping[Phase, Playlist] = field(default_factory=dict)
    #: One line per refused track or file problem (empty when all is well).
    problems: tuple[str, ...] = ()
    #: The folder the library was read from.
    root: Path | None = None

    def playlist(self, phase: Phase) -> Playlist:
        """The playlist for ``phase``; an empty one when the library has none."""
        found = self.playlists.get(phase)
        if found is not None:
            return found
        return Playlist(phase=phase, tracks=(), source=f"{phase}: no playlist")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackQueue:
    """What to play for a phase, in order, and why it is what it is."""

    phase: Phase
    tracks: tuple[Track, ...]
    #: True when every playable track had been heard before and these repeat them.
    repeats: bool = False
    #: Empty, or a sentence for a technical notice (repeats, nothing left to play).
    reason: str = ""


# ---------------------------------------------------------------- queue choice


def track_matches(track: Track, keys: AbstractSet[str]) -> bool:
    """Whether any of ``keys`` names ``track``.

    A key matches the id, the full path, the file name or the title (case-insensitive);
    ``id:``, ``path:`` and ``title:`` prefixes restrict it to one of them.

    >>> t = Track(id="a/b.flac", path=Path("/lib/a/b.flac"), title="Tide")
    >>> [
    ...     track_matches(t, {k})
    ...     for k in ("tide", "b.flac", "title:b.flac", "id:a/b.flac")
    ... ]
    [True, True, False, True]
    """
    names = {
        "id": {track.id.casefold()},
        "path": {str(track.path).casefold(), track.path.name.casefold()},
        "title": {track.title.casefold()},
    }
    for key in keys:
        kind, sep, value = key.partition(":")
        if sep and kind in names:
            if value.strip().casefold() in names[kind]:
                return True
            continue
        wanted = key.strip().casefold()
        if any(wanted in group for group in names.values()):
            return True
    return False


def choose_queue(
    playlist: Playlist,
    *,
    heard: AbstractSet[str],
    excluded: AbstractSet[str],
    seed: int | str,
) -> TrackQueue:
    """Order a phase's tracks for playing: never excluded ones, unheard ones first.

    Exclusions (familiar or triggering tracks for this patient) are never played.
    Of the rest, only tracks not in ``heard`` (ids from earlier sessions) are queued, in
    a shuffled order fixed by ``seed`` and the phase. When every remaining track has
    been heard, the queue *repeats* them (shuffled) and ``reason`` says so: a therapist
    would rather hear a repeat than silence. The queue is empty only when nothing may
    be played at all (empty playlist or everything excluded), and ``reason`` says why.

    >>> tracks = tuple(
    ...     Track(id=n, path=Path(f"/m/{n}.wav"), title=n, lyrics=Lyrics.NONE)
    ...     for n in "abc"
    ... )
    >>> pl = Playlist(phase=Phase.PEAK, tracks=tracks)
    >>> q = choose_queue(pl, heard={"a"}, excluded={"c"}, seed=1)
    >>> [t.id for t in q.tracks], q.repeats
    (['b'], False)
    >>> q = choose_queue(pl, heard={"a", "b"}, excluded={"c"}, seed=1)
    >>> sorted(t.id for t in q.tracks), q.repeats
    (['a', 'b'], True)
    """
    phase = playlist.phase
    if not playlist.tracks:
        return TrackQueue(
            phase=phase, tracks=(), reason=f"there is no music for the {phase} phase"
        )
    allowed = [t for t in playlist.tracks if not track_matches(t, excluded)]
    if not allowed:
        return TrackQueue(
            phase=phase,
            tracks=(),
            reason=(
                f"every track of the {phase} playlist is excluded for this patient; "
                "no music for this phase"
            ),
        )
    rng = random.Random(f"{seed}:{phase}")
    fresh = [t for t in allowed if not track_matches(t, heard)]
    if fresh:
        rng.shuffle(fresh)
        return TrackQueue(phase=phase, tracks=tuple(fresh))
    rng.shuffle(allowed)
    return TrackQueue(
        phase=phase,
        tracks=tuple(allowed),
        repeats=True,
        reason=(
            f"all {len(allowed)} playable tracks of the {phase} playlist were heard "
            "before; repeating them rather than playing silence"
        ),
    )


# ---------------------------------------------------------------- loading


@dataclass(slots=True)
class _Loader:
    """Collects tracks and problems while a library folder is read."""

    root: Path
    problems: list[str] = field(default_factory=list)
    by_phase: dict[Phase, list[Track]] = field(default_factory=dict)
    found: set[Phase] = field(default_factory=set)

    def add(self, phase: Phase, track: Track) -> None:
        for target in (phase, *sorted(track.phases - {phase}, key=lambda p: p.order)):
            bucket = self.by_phase.setdefault(target, [])
            if all(existing.id != track.id for existing in bucket):
                bucket.append(track)
            self.found.add(target)


def _phase_of(path: Path) -> Phase | None:
    stem = path.name
    for suffix in (".meta.toml", ".toml", *_M3U_SUFFIXES):
        if stem.endswith(suffix):
            stem = stem.removesuffix(suffix)
            break
    try:
        phase = Phase(stem)
    except ValueError:
        return None
    return phase if phase in MUSIC_PHASES else None


def _resolve(base: Path, written: str) -> Path:
    if written.startswith("file://"):
        return Path(unquote(urlparse(written).path))
    path = Path(written).expanduser()
    return path if path.is_absolute() else (base / path)


def _default_id(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _where(file: Path, index: int, label: str) -> str:
    return f"{file}: track {index} ({label})"


@dataclass(slots=True)
class _Fields:
    """One track's checked fields; ``None`` where the file says nothing."""

    id: str | None = None
    path: str | None = None
    title: str | None = None
    artist: str | None = None
    source: str | None = None
    duration_s: float | None = None
    lyrics: Lyrics | None = None
    intensity: int | None = None
    phases: frozenset[Phase] | None = None

    def merged(self, other: _Fields) -> _Fields:
        """These fields with ``other``'s non-``None`` ones on top."""
        out = _Fields()
        for name in _Fields.__slots__:
            mine = getattr(self, name)
            theirs = getattr(other, name)
            setattr(out, name, theirs if theirs is not None else mine)
        return out


def _check_text(key: str, value: object) -> str:
    if not isinstance(value, str) or (key in {"id", "path"} and not value):
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _check_duration(_key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("duration_s must be a number")  # noqa: TRY004 - a message
    if value < 0:
        raise ValueError("duration_s must not be negative")
    return float(value)


def _check_lyrics(_key: str, value: object) -> Lyrics:
    try:
        return Lyrics(str(value).strip().lower())
    except ValueError:
        raise ValueError(
            f'lyrics = {value!r} is not one of "none", "instrumental", "vocals", '
            '"lyrics"'
        ) from None


def _check_intensity(_key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("intensity must be a whole number 1-5")  # noqa: TRY004
    if value not in INTENSITY_RANGE:
        raise ValueError("intensity must be a whole number 1-5")
    return value


def _check_phases(_key: str, value: object) -> frozenset[Phase]:
    names = ", ".join(p.value for p in MUSIC_PHASES)
    if not isinstance(value, list):
        raise ValueError(f"phases must be a list of phase names ({names})")  # noqa: TRY004
    phases: set[Phase] = set()
    for item in value:
        phase = next((p for p in MUSIC_PHASES if p.value == item), None)
        if phase is None:
            raise ValueError(f"{item!r} is not a music phase ({names})")
        phases.add(phase)
    return frozenset(phases)


_CHECKS: dict[str, Callable[[str, object], object]] = {
    "id": _check_text,
    "path": _check_text,
    "title": _check_text,
    "artist": _check_text,
    "source": _check_text,
    "duration_s": _check_duration,
    "lyrics": _check_lyrics,
    "intensity": _check_intensity,
    "phases": _check_phases,
}


def _parse_fields(
    raw: Mapping[str, object], *, where: str, allowed: frozenset[str]
) -> tuple[_Fields, list[str]]:
    """Check keys and types of one track's fields; returns (fields, problems)."""
    problems: list[str] = []
    out = _Fields()
    for key, value in raw.items():
        if key not in allowed:
            problems.append(f"{where}: unknown key {key!r}")
            continue
        try:
            setattr(out, key, _CHECKS[key](key, value))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    return out, problems


def _make_track(
    loader: _Loader, *, file: Path, index: int, fields: _Fields, written_path: str
) -> Track | None:
    path = _resolve(file.parent, written_path)
    title = fields.title or path.stem
    try:
        track = Track(
            id=fields.id or _default_id(loader.root, path),
            path=path,
            title=title,
            artist=fields.artist or "",
            duration_s=fields.duration_s,
            lyrics=fields.lyrics,
            phases=fields.phases or frozenset(),
            intensity=fields.intensity if fields.intensity is not None else 3,
            source=fields.source or f"{file}: track {index}",
        )
    except ValueError as exc:
        loader.problems.append(f"{_where(file, index, written_path)}: {exc}")
        return None
    problem = lyric_problem(track)
    if problem is not None:
        loader.problems.append(problem)
        return None
    return track


def _read_toml(file: Path, loader: _Loader) -> dict[str, object] | None:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        loader.problems.append(f"{file}: cannot read it: {exc}")
    except UnicodeDecodeError as exc:
        loader.problems.append(f"{file}: not UTF-8 text: {exc}")
    except tomllib.TOMLDecodeError as exc:
        loader.problems.append(f"{file}: not valid TOML: {exc}")
    return None


def _check_header(file: Path, phase: Phase, data: Mapping[str, object]) -> list[str]:
    problems = [
        f"{file}: unknown table or key {key!r}"
        for key in data.keys() - {"track", "playlist"}
    ]
    header = data.get("playlist", {})
    if not isinstance(header, dict):
        return [*problems, f"{file}: [playlist] must be a table"]
    problems.extend(
        f"{file}: [playlist]: unknown key {key!r}"
        for key in header.keys() - _PLAYLIST_KEYS
    )
    named = header.get("phase")
    if named is not None and named != phase.value:
        problems.append(
            f"{file}: [playlist] phase = {named!r} but the file is the {phase} playlist"
        )
    return problems


def _load_toml_playlist(file: Path, phase: Phase, loader: _Loader) -> None:
    data = _read_toml(file, loader)
    if data is None:
        return
    loader.found.add(phase)
    loader.problems.extend(_check_header(file, phase, data))
    entries = data.get("track", [])
    if not isinstance(entries, list):
        loader.problems.append(f"{file}: track must be [[track]] tables")
        return
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            loader.problems.append(f"{file}: track {index} is not a table")
            continue
        label = str(entry.get("title") or entry.get("path") or "no path")
        where = _where(file, index, label)
        fields, problems = _parse_fields(entry, where=where, allowed=_TRACK_KEYS)
        if "path" not in entry:
            problems.append(f"{where}: no path")
        loader.problems.extend(problems)
        if problems or fields.path is None:
            continue
        track = _make_track(
            loader, file=file, index=index, fields=fields, written_path=fields.path
        )
        if track is not None:
            loader.add(phase, track)


def _parse_extinf(line: str) -> tuple[float | None, str, str]:
    """``#EXTINF:<seconds>,<artist> - <title>`` → (duration, artist, title)."""
    info = line.removeprefix("#EXTINF:")
    length, _, name = info.partition(",")
    duration: float | None
    try:
        # Attributes (tvg-id=...) may follow the length; only the number matters.
        duration = float(length.split()[0]) if length.strip() else None
    except ValueError:
        duration = None
    if duration is not None and duration < 0:
        duration = None  # -1 means "unknown" in extended M3U
    artist, sep, title = name.partition(" - ")
    if not sep:
        artist, title = "", name
    return duration, artist.strip(), title.strip()


def _read_sidecar(
    meta_file: Path, loader: _Loader
) -> tuple[_Fields, dict[str, _Fields]]:
    """``<phase>.meta.toml`` → (defaults, fields per path as written in the M3U)."""
    per_track: dict[str, _Fields] = {}
    if not meta_file.exists():
        return _Fields(), per_track
    meta = _read_toml(meta_file, loader) or {}
    loader.problems.extend(
        f"{meta_file}: unknown table or key {key!r}"
        for key in meta.keys() - {"defaults", "tracks"}
    )
    raw_defaults = meta.get("defaults", {})
    raw_tracks = meta.get("tracks", {})
    if not isinstance(raw_defaults, dict) or not isinstance(raw_tracks, dict):
        loader.problems.append(f"{meta_file}: [defaults] and [tracks] must be tables")
        return _Fields(), per_track
    defaults, problems = _parse_fields(
        raw_defaults,
        where=f"{meta_file}: [defaults]",
        allowed=_TRACK_KEYS - {"id", "path", "title"},
    )
    loader.problems.extend(problems)
    for written, entry in raw_tracks.items():
        where = f"{meta_file}: [tracks.{written!r}]"
        if not isinstance(entry, dict):
            loader.problems.append(f"{where}: not a table")
            continue
        fields, problems = _parse_fields(
            entry, where=where, allowed=_TRACK_KEYS - {"path"}
        )
        loader.problems.extend(problems)
        per_track[written] = fields
    return defaults, per_track


def _m3u_entries(text: str) -> Iterable[tuple[str, _Fields]]:
    """Each entry of an M3U with what its ``#EXTINF`` line said."""
    extinf = _Fields()
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("#EXTINF:"):
            duration, artist, title = _parse_extinf(line)
            extinf = _Fields(
                duration_s=duration, artist=artist or None, title=title or None
            )
        elif line and not line.startswith("#"):
            yield line, extinf
            extinf = _Fields()


def _load_m3u_playlist(file: Path, phase: Phase, loader: _Loader) -> None:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        loader.problems.append(f"{file}: cannot read it: {exc}")
        return
    loader.found.add(phase)
    meta_file = file.with_name(f"{phase.value}.meta.toml")
    defaults, per_track = _read_sidecar(meta_file, loader)
    used: set[str] = set()
    for index, (line, extinf) in enumerate(_m3u_entries(text), start=1):
        if "://" in line and not line.startswith("file://"):
            loader.problems.append(
                f"{_where(file, index, line)}: streams are not supported; "
                "only local files"
            )
            continue
        used.add(line)
        fields = defaults.merged(extinf).merged(per_track.get(line, _Fields()))
        track = _make_track(
            loader, file=file, index=index, fields=fields, written_path=line
        )
        if track is not None:
            loader.add(phase, track)
    loader.problems.extend(
        f"{meta_file}: [tracks.{written!r}] names no entry of {file.name}"
        for written in per_track.keys() - used
    )


def load_playlist_file(file: Path, *, root: Path | None = None) -> Library:
    """Read one playlist file (TOML or M3U) into a one-phase library.

    Args:
        file: ``<phase>.toml``, ``<phase>.m3u`` or ``<phase>.m3u8``.
        root: the folder default ids are made relative to (the file's folder).

    Returns:
        The library; refused tracks are left out and listed in ``problems``.

    Raises:
        PlaylistError: the file name names no music phase.
    """
    phase = _phase_of(file)
    if phase is None or file.name.endswith(".meta.toml"):
        raise PlaylistError([f"{file}: the file name must be a phase name"])
    loader = _Loader(root=root or file.parent)
    if file.suffix == ".toml":
        _load_toml_playlist(file, phase, loader)
    else:
        _load_m3u_playlist(file, phase, loader)
    return _finish(loader)


def _finish(loader: _Loader) -> Library:
    playlists: dict[Phase, Playlist] = {}
    for phase in MUSIC_PHASES:
        if phase not in loader.found:
            continue
        tracks = tuple(loader.by_phase.get(phase, ()))
        try:
            playlists[phase] = Playlist(
                phase=phase, tracks=tracks, source=str(loader.root)
            )
        except PlaylistError as exc:  # duplicate ids across files
            loader.problems.extend(exc.problems)
            unique: dict[str, Track] = {}
            for track in tracks:
                unique.setdefault(track.id, track)
            playlists[phase] = Playlist(
                phase=phase, tracks=tuple(unique.values()), source=str(loader.root)
            )
    return Library(
        playlists=playlists, problems=tuple(loader.problems), root=loader.root
    )


def _playlist_files(root: Path) -> Iterable[tuple[Phase, Path]]:
    for phase in MUSIC_PHASES:
        for suffix in (".toml", *_M3U_SUFFIXES):
            candidate = root / f"{phase.value}{suffix}"
            if candidate.is_file():
                yield phase, candidate


def load_library(root: Path, *, strict: bool = False) -> Library:
    """Read every phase playlist in a library folder.

    Args:
        root: the library folder.
        strict: raise on any problem instead of leaving refused tracks out (for
            ``roomctl config check`` and start-up validation).

    Returns:
        The library; with ``strict=False`` refused tracks and file problems are
        listed in ``problems`` and the rest is usable.

    Raises:
        PlaylistError: the folder cannot be read, or (``strict``) anything was refused;
            every problem is listed at once.
    """
    root = root.expanduser()
    if not root.is_dir():
        raise PlaylistError([f"{root}: the music library folder does not exist"])
    loader = _Loader(root=root)
    seen: dict[Phase, Path] = {}
    for phase, file in _playlist_files(root):
        if phase in seen:
            loader.problems.append(
                f"{file}: the {phase} phase already has {seen[phase].name}; "
                "keep one playlist per phase (this one is ignored)"
            )
            continue
        seen[phase] = file
        if file.suffix == ".toml":
            _load_toml_playlist(file, phase, loader)
        else:
            _load_m3u_playlist(file, phase, loader)
    library = _finish(loader)
    if strict and library.problems:
        raise PlaylistError(list(library.problems))
    return library
