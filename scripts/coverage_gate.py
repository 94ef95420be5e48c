"""Per-path coverage gates: the pure core must be fully covered (style.md §2.12).

Run after ``coverage combine``; exits 1 naming every file below its bar.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]

#: Globs (relative to the repository) and the branch coverage each must reach.
GATES: dict[str, float] = {
    "roomctl/devices/codec.py": 100.0,
    "roomctl/devices/*/protocol.py": 100.0,
    "roomctl/alarms/*.py": 100.0,
}
#: The whole code base, for reference and a floor.
OVERALL_FLOOR = 85.0


def main() -> int:
    """Check every gate; print a line per file checked."""
    cov = coverage.Coverage(data_file=str(ROOT / ".coverage"))
    cov.load()
    failures = []
    for pattern, bar in GATES.items():
        for path in sorted(ROOT.glob(pattern)):
            percent = cov.report(
                include=[str(path)], file=io.StringIO(), show_missing=False
            )
            status = "ok" if percent >= bar else "BELOW"
            name = path.relative_to(ROOT)
            print(f"coverage gate {status}: {name} {percent:.1f}% (bar {bar:g}%)")
            if percent < bar:
                failures.append(str(path.relative_to(ROOT)))
    overall = cov.report(file=io.StringIO())
    print(f"coverage overall: {overall:.1f}% (floor {OVERALL_FLOOR:g}%)")
    if overall < OVERALL_FLOOR:
        failures.append("overall")
    if failures:
        print("coverage gates failed: " + ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
