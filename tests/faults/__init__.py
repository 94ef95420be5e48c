"""Fault suites (issue 8): the real daemon and simulators under faults, with figures."""
