"""Shared fixtures and hygiene for every test.

- Log calls with mismatched %-arguments fail the test (zigpy's guard).
- Hypothesis runs derandomized under the ``ci`` profile.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from roomctl.clock import VirtualClock
from tests.broker import Broker

if TYPE_CHECKING:
    from collections.abc import Iterator

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

START_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class _FailOnBadFormatting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.getMessage()
        except (TypeError, ValueError) as exc:
            self.errors.append(f"{record.pathname}:{record.lineno}: {exc}")


@pytest.fixture(autouse=True)
def raise_on_bad_log_formatting() -> Iterator[None]:
    handler = _FailOnBadFormatting()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert not handler.errors, handler.errors


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start_at=START_AT)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real mosquitto on a free loopback port, one per test module."""
    instance = Broker(folder=tmp_path_factory.mktemp("mosquitto"))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
