"""Layer-4 tests of the pure alarm engine: explicit times, no event loop.

See style.md §2.12.
"""

from __future__ import annotations
