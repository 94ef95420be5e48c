"""Fuzzing suites: the device decoders over mutated inputs (``make fuzz``)."""
