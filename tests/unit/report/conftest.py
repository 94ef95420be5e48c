"""Fixtures: one real session record (replayed simulation), its history and model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from roomctl.history import load_session, open_record
from roomctl.report import ReportModel, build_report
from tests.unit.report.session_record import Built, build_record, plan

if TYPE_CHECKING:
    from roomctl.history import SessionHistory

GENERATED_AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def record(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The finished session of ``session_record`` in its own record."""
    return build_record(tmp_path_factory.mktemp("record") / "record.sqlite")


@pytest.fixture(scope="session")
def closed_record(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The same session, closed by the nurse at +39 before it was ready."""
    return build_record(
        tmp_path_factory.mktemp("closed") / "record.sqlite",
        capture_plan=plan(40, close_reason="Transferred to the recovery bay"),
    )


def load(built: Built) -> SessionHistory:
    conn = open_record(built.path)
    try:
        return load_session(conn, built.session_id)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def history(record: Built) -> SessionHistory:
    return load(record)


@pytest.fixture(scope="session")
def model(history: SessionHistory) -> ReportModel:
    return build_report(history, generated_at=GENERATED_AT)
