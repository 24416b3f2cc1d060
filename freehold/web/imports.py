"""Imports started from the web app: the upload is saved, imported in a thread, then deleted.

One import runs at a time (the archive has one writer); a second is refused while it runs.
The upload goes to ``<data folder>/uploads/<job id>/<cleaned name>`` — the name keeps only
letters, digits, dots, dashes and underscores, because detection looks at the suffix
(``.zip``, ``.json``, ``logs.db``) — and is removed when the import ends, whatever happened;
what the import kept is in the archive, and the person still has their original file.
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from freehold.archive import open_archive
from freehold.errors import FreeholdError
from freehold.ingest import import_path

__all__ = ["Job", "Jobs", "clean_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def clean_name(name: str | None) -> str:
    """A file name safe to create: the last path component, tamed; never empty or dotted."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._")[:120]
    return cleaned or "upload"


@dataclass
class Job:
    id: str
    name: str
    state: str = "running"
    done_bytes: int = 0
    total_bytes: int = 0
    conversations: int = 0
    started: float = field(default_factory=time.monotonic)
    report: dict[str, Any] | None = None
    error: str | None = None

    def snapshot(self) -> Job:
        """A copy that is consistent while the import thread runs: ``state`` is read before
        ``report`` and ``error``, and the thread writes them in the other order, so a finished
        state always comes with its report."""
        state = self.state
        return replace(self, state=state)

    @property
    def percent(self) -> int:
        return int(100 * self.done_bytes / self.total_bytes) if self.total_bytes else 0

    @property
    def rate(self) -> float:
        """MB read per second so far."""
        elapsed = max(time.monotonic() - self.started, 1e-3)
        return self.done_bytes / elapsed / 1e6


class Jobs:
    """The web app's imports: at most one running, every finished one kept for its report."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def busy(self) -> bool:
        return any(job.state == "running" for job in self.jobs.values())

    def start(self, name: str | None, stream: IO[bytes]) -> Job:
        """Save the upload and import it in a thread; FreeholdError while another one runs."""
        with self.lock:
            if self.busy():
                raise FreeholdError("Another import is running; wait for it to finish.")
            job = Job(secrets.token_hex(8), clean_name(name))
            self.jobs[job.id] = job
        folder = self.home / "uploads" / job.id
        try:
            folder.mkdir(parents=True)
            with (folder / job.name).open("xb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            job.state = "failed"
            raise
        threading.Thread(target=self._run, args=(job, folder), daemon=True).start()
        return job

    def _run(self, job: Job, folder: Path) -> None:
        def progress(done: int, total: int, conversations: int) -> None:
            job.done_bytes, job.total_bytes, job.conversations = done, total, conversations

        state, report, error = "failed", None, None
        try:
            with open_archive(self.home) as archive:
                result = import_path(archive, folder / job.name, progress)
            report, state = result.to_json(), "done" if result.ok else "problems"
        except FreeholdError as failure:
            error = str(failure)
        except Exception as failure:  # reported on the page rather than lost in a thread
            error = f"{type(failure).__name__}: {failure}"
        finally:
            # The upload goes first: a job seen as finished has left nothing behind.
            shutil.rmtree(folder, ignore_errors=True)
            job.report, job.error, job.state = report, error, state  # state last: see snapshot
