"""Tests: simulator device models."""
