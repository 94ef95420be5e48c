"""``python -m tests.fuzz [--inputs N] [--seed S] [PROTOCOL ...]``: the long fuzz run.

Prints one line of figures per protocol (inputs, bytes, seconds, inputs a second,
units decoded, readings); exits 1 on the first input that breaks an invariant, with
its bytes to replay it.
"""

from __future__ import annotations

import argparse
import platform
import sys

from tests.fuzz.mutate import PROTOCOLS, FuzzFailure, fuzz


def main() -> int:
    """Fuzz the chosen protocols (all by default) and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("protocols", nargs="*", help=f"of {', '.join(PROTOCOLS)}")
    parser.add_argument("--inputs", type=int, default=1_000_000, help="per protocol")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    unknown = set(args.protocols) - set(PROTOCOLS)
    if unknown:
        parser.error(f"unknown protocol: {', '.join(sorted(unknown))}")
    print(  # noqa: T201
        f"fuzzing {args.inputs:,} inputs per protocol, seed {args.seed}, "
        f"Python {platform.python_version()} on {platform.machine()}"
    )
    total = 0
    for name in args.protocols or PROTOCOLS:
        try:
            stats = fuzz(name, args.inputs, seed=args.seed)
        except FuzzFailure as exc:
            print(f"FAILED: {exc}", file=sys.stderr)  # noqa: T201
            return 1
        total += stats.inputs
        print(stats.line(), flush=True)  # noqa: T201
        if stats.examples_questionable:
            examples = "; ".join(stats.examples_questionable[:3])
            print(f"  questionable, e.g. {examples}")  # noqa: T201
    print(f"total: {total:,} inputs, no exception, no invariant broken")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
