"""Tests: unit layer."""
