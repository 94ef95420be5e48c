"""roomctl benchmarks: measured figures for bench/README.md (not timed tests)."""
