"""``python -m roomctl``: the command line."""

from __future__ import annotations

from roomctl.cli import main

raise SystemExit(main())
