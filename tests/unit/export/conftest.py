from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from roomctl.history import SessionHistory, load_session, open_record
from tests.unit.export.records import SESSION_ID, build_full_session

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
async def record(tmp_path: Path) -> Path:
    """A record holding the full session of ``records.py``."""
    path = tmp_path / "record.sqlite"
    await build_full_session(path)
    return path


@pytest.fixture
def history(record: Path) -> SessionHistory:
    conn = open_record(record)
    try:
        return load_session(conn, SESSION_ID)
    finally:
        conn.close()
