"""roomctl tests."""
