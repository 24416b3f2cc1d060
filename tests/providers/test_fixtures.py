"""The suite's own guard against leaked sockets (``_close_providers``): a socket a test leaves
open in a reference cycle fails the run: in the test that left it, when the leak is young or the
test talked to a provider server; else in a later one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LEAKS = """
import gc, socket

class Cycle:
    def __init__(self):
        self.me = self
        self.sock = socket.socket()

def test_young_leak():
    Cycle()

def test_old_leak():
    kept = Cycle()
    gc.collect(1)  # survives the young collections: now in the oldest generation
    del kept

def test_old_leak_beside_a_server(wire_server):
    kept = Cycle()
    gc.collect(1)
    del kept

def test_clean():
    pass
"""


def _run(folder: Path, selected: str) -> subprocess.CompletedProcess[str]:
    (folder / "conftest.py").write_text('pytest_plugins = ["tests.providers.fixtures"]\n')
    (folder / "test_leaks.py").write_text(LEAKS)
    pytest = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error")
    return subprocess.run(
        [*pytest, "-k", selected, "test_leaks.py"],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_socket_left_in_a_cycle_fails_the_test_that_left_it(tmp_path: Path) -> None:
    run = _run(tmp_path, "young_leak or clean")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "ERROR test_leaks.py::test_young_leak" in run.stdout
    assert " 1 error in " in run.stdout  # its teardown, and nothing else


def test_an_older_leak_still_fails_the_run(tmp_path: Path) -> None:
    run = _run(tmp_path, "old_leak and not server or clean")
    assert run.returncode != 0, run.stdout + run.stderr
    assert "unclosed <socket.socket" in run.stdout + run.stderr


def test_beside_a_provider_server_even_an_older_leak_fails_its_own_test(tmp_path: Path) -> None:
    run = _run(tmp_path, "beside_a_server or clean")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "ERROR test_leaks.py::test_old_leak_beside_a_server" in run.stdout
    assert " 1 error in " in run.stdout


def test_a_clean_session_passes(tmp_path: Path) -> None:
    run = _run(tmp_path, "clean")
    assert run.returncode == 0, run.stdout + run.stderr
