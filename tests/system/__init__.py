"""Tests: system layer."""
