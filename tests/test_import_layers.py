"""Runtime import hygiene: what the static contracts cannot see (deferred imports)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PURE_MODULES = [
    "roomctl.readings",
    "roomctl.events",
    "roomctl.eventstream",
    "roomctl.commands",
    "roomctl.clock",
    "roomctl.errors",
    "roomctl.devices.codec",
    "roomctl.devices.base",
]
#: Pure, but built on pydantic (a third-party library): checked with site packages.
PURE_WITH_PYDANTIC = ["roomctl.alarms", "roomctl.settings"]
IO_MODULES = [
    "asyncio",
    "serial",
    "serial_asyncio_fast",
    "aiomqtt",
    "vlc",
    "textual",
    "sqlite3",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_loads_no_io_library(module: str) -> None:
    code = (
        f"import sys, json, importlib; importlib.import_module({module!r});"
        " print(json.dumps(sorted(sys.modules)))"
    )
    # -S: no site packages at all (so neither coverage's subprocess hook, which imports
    # sqlite3, nor any third-party library): the pure core needs the stdlib only.
    env = {"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")}
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(IO_MODULES), (
        f"{module} pulled in {loaded & set(IO_MODULES)}"
    )


def protocol_modules() -> list[Path]:
    return sorted((ROOT / "roomctl" / "devices").glob("*/protocol.py"))


def test_there_are_protocol_modules_to_check() -> None:
    assert len(protocol_modules()) == 3


@pytest.mark.parametrize("path", protocol_modules(), ids=lambda p: p.parent.name)
def test_protocol_module_never_imports_asyncio_or_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "serial", "serial_asyncio_fast", "socket", "os"}


def test_roomctl_never_imports_simulators_or_tests() -> None:
    for path in (ROOT / "roomctl").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"simulators", "tests"}, path


@pytest.mark.parametrize("module", PURE_WITH_PYDANTIC)
def test_pure_module_with_pydantic_loads_no_io_library(module: str) -> None:
    code = (
        f"import sys, json, importlib; importlib.import_module({module!r});"
        " print(json.dumps(sorted(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(IO_MODULES), (
        f"{module} pulled in {loaded & set(IO_MODULES)}"
    )
