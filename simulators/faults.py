"""Byte-level fault injectors, composable and seeded; shared by tests and the CLI.

Each fault transforms the bytes a simulated device sends at scenario time ``t_s``:
``split`` (tiny chunks), ``drop`` (lose bytes), ``corrupt`` (flip bits), ``garbage``
(insert noise), ``silence`` (send nothing for a while). ``unplug`` is a connection
fault: the runner closes the port for a while and opens it again.

CLI form: ``split:4``, ``drop:0.001``, ``corrupt:0.001``, ``garbage:0.01``,
``silence:30-40``, ``unplug:60-65`` (times in scenario seconds).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Faults:
    """A chain of faults; ``apply`` runs them in a fixed order."""

    seed: int = 0
    split_max: int = 0
    drop_p: float = 0.0
    corrupt_p: float = 0.0
    garbage_p: float = 0.0
    silences: list[tuple[float, float]] = field(default_factory=list)
    unplugs: list[tuple[float, float]] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"faults:{self.seed}")

    def silent(self, t_s: float) -> bool:
        """Whether the device sends nothing at ``t_s``."""
        return any(a <= t_s < b for a, b in self.silences)

    def unplugged(self, t_s: float) -> bool:
        """Whether the cable is out at ``t_s``."""
        return any(a <= t_s < b for a, b in self.unplugs)

    def apply(self, data: bytes, t_s: float) -> list[bytes]:
        """Transform one burst of device output into the chunks actually sent."""
        if not data or self.silent(t_s):
            return []
        out = bytearray()
        for byte in data:
            if self.drop_p and self.rng.random() < self.drop_p:
                continue
            if self.garbage_p and self.rng.random() < self.garbage_p:
                out.extend(self.rng.randbytes(self.rng.randint(1, 8)))
            value = byte
            if self.corrupt_p and self.rng.random() < self.corrupt_p:
                value ^= 1 << self.rng.randrange(8)
            out.append(value)
        if not self.split_max:
            return [bytes(out)] if out else []
        chunks = []
        start = 0
        while start < len(out):
            size = self.rng.randint(1, self.split_max)
            chunks.append(bytes(out[start : start + size]))
            start += size
        return chunks


def _window(text: str) -> tuple[float, float]:
    start, _, end = text.partition("-")
    a, b = float(start), float(end)
    if b <= a:
        raise ValueError(f"window {text!r} must end after it starts")
    return a, b


def parse_faults(specs: list[str], seed: int = 0) -> Faults:
    """Build a fault chain from CLI specs like ``corrupt:0.001`` or ``unplug:60-65``.

    >>> f = parse_faults(["split:4", "silence:30-40"])
    >>> f.split_max, f.silences
    (4, [(30.0, 40.0)])

    Raises:
        ValueError: an unknown fault or a bad value, in words.
    """
    faults = Faults(seed=seed)
    for spec in specs:
        name, _, value = spec.partition(":")
        try:
            if name == "split":
                faults.split_max = int(value)
            elif name in ("drop", "corrupt", "garbage"):
                p = float(value)
                if not 0 <= p <= 1:
                    raise ValueError("a probability is between 0 and 1")  # noqa: TRY301
                setattr(faults, f"{name}_p", p)
            elif name == "silence":
                faults.silences.append(_window(value))
            elif name == "unplug":
                faults.unplugs.append(_window(value))
            else:
                raise ValueError(  # noqa: TRY301
                    "unknown fault (split, drop, corrupt, garbage, silence, unplug)"
                )
        except ValueError as exc:
            raise ValueError(f"fault {spec!r}: {exc}") from exc
    return faults
