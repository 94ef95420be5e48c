"""Tests: ui layer."""
