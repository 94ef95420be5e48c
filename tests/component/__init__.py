"""Tests: component layer."""
