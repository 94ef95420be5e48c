"""Tests: device codecs and drivers."""
