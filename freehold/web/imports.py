"""Imports started from the web app: the upload is saved, imported in a thread, then deleted.

One import runs at a time (the archive has one writer); a second is refused while it runs
(``ImportRunningError``, the only error that means so). The upload is streamed (never spooled
in the system's temporary folder) to ``<data folder>/uploads/<job id>/<name>`` — the name the
browser sent, in any script, made one safe path component (``clean_name``): it is the name the
import reports and records (``sources.file_name``), and detection looks at its suffix
(``.zip``, ``.json``, ``logs.db``) — and is removed when the import ends, whatever happened;
what the import kept is in the archive, and the person still has their original file. Its
writes (the folder, the file) go through ``storage.guarded``: a full or read-only disk is the
one ``StorageError`` line, like every write freehold makes in the data folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from freehold import _private, storage
from freehold.archive import open_archive
from freehold.errors import FreeholdError
from freehold.ingest import import_path

__all__ = ["ImportRunningError", "Job", "Jobs", "UploadError", "clean_name"]

# Controls (C0, DEL, C1) and the bidi embeddings, overrides and isolates: never in a name.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")
_MAX_NAME = 250  # bytes of UTF-8: under the 255 most file systems allow for one component


# A browser sends a file name's ``"``, CR and LF as ``%22``, ``%0D``, ``%0A`` and nothing else
# escaped (the WHATWG's multipart/form-data encoding): those three, undone, are the name chosen.
_BROWSER_ESCAPES = re.compile("%22|%0D|%0A")  # as sent: upper case
_ESCAPED = {"%22": '"', "%0D": "\r", "%0A": "\n"}


def _unescaped(name: str) -> str:
    """The file name as chosen, from the name a browser sent (``_BROWSER_ESCAPES``)."""
    return _BROWSER_ESCAPES.sub(lambda match: _ESCAPED[match[0]], name)


def clean_name(name: str | None) -> str:
    """The name sent, as one file name safe to create in the job's own folder: its last path
    component, controls made ``_``, no leading or trailing dots or spaces (never ``..`` or
    hidden), at most ``_MAX_NAME`` bytes with its suffix kept; "upload" when nothing is left.
    Letters of every script stay: "会話.json" is saved, reported and recorded as it is."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _UNSAFE.sub("_", base).strip(". ")
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or len(suffix.encode()) > 20:
        stem, dot, suffix = cleaned, "", ""
    room = _MAX_NAME - len((dot + suffix).encode())
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(". ")
    return f"{stem}{dot}{suffix}" if stem else "upload"


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

    def reserve(self) -> tuple[Job, Path]:
        """A new job and its empty folder; ``ImportRunningError`` while another import runs,
        ``StorageError`` when the folder cannot be made."""
        with self.lock:
            if self.busy():
                raise ImportRunningError("Another import is running; wait for it to finish.")
            job = Job(secrets.token_hex(8), "upload")
            self.jobs[job.id] = job
        folder = self.home / "uploads" / job.id
        try:
            with storage.guarded(folder.parent):
                if not _private.make_dirs(folder):  # 0700, like everything in the data folder
                    raise FileExistsError(folder)
        except BaseException:
            self.abandon(job, folder)
            raise
        return job, folder

    def abandon(self, job: Job, folder: Path) -> None:
        """Forget a job whose upload did not arrive whole, and everything it saved."""
        _remove(folder)
        with self.lock:
            self.jobs.pop(job.id, None)

    def launch(self, job: Job, folder: Path) -> None:
        """Import the saved upload in a thread."""
        threading.Thread(target=self._run, args=(job, folder), daemon=True).start()

    async def receive(self, content_type: str, body: AsyncIterator[bytes]) -> Job:
        """Stream a multipart upload straight into a new job's folder, then import it.

        The file never passes through the system's temporary folder (which may be a small
        tmpfs) and is written once. A body that is cut (the client hung up, or went silent
        past the server's idle timeout: ``serving``), malformed, without its closing
        boundary, too large (the guard raises as it counts) or holds no file leaves nothing
        behind.
        """
        job, folder = self.reserve()
        saver = _Upload(folder)
        try:
            path = await saver.receive(content_type, body)
            saver.close()
        except BaseException:
            saver.discard()
            self.abandon(job, folder)
            raise
        job.name = path.name
        self.launch(job, folder)
        return job

    def _run(self, job: Job, folder: Path) -> None:
        def progress(done: int, total: int, conversations: int) -> None:
            job.done_bytes, job.total_bytes, job.conversations = done, total, conversations

        state, report, error = "failed", None, None
        try:
            with open_archive(self.home) as archive:
                result = import_path(archive, folder / job.name, progress)
            report, state = result.to_json(), "done" if result.ok else "problems"
        except FreeholdError as failure:  # named by the upload's name, not where it was kept
            error = str(failure).replace(f"{folder}{os.sep}", "")
        except Exception as failure:  # reported on the page rather than lost in a thread
            error = f"{type(failure).__name__}: {failure}"
        finally:
            # The upload goes first: a job seen as finished has left nothing behind.
            _remove(folder)
            job.report, job.error, job.state = report, error, state  # state last: see snapshot


def _remove(folder: Path) -> None:
    """A job's folder, and ``uploads`` when no other job's is in it: an upload leaves nothing
    in the data folder. Only while the job still holds the one import slot (no other folder
    is being made)."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):  # another job's folder is there, or it is gone
        folder.parent.rmdir()


_FLUSH_AT = 1 << 20  # bytes of upload held in memory before they go to disk
_MAX_FIELD = 4096  # bytes of any form field that is not the file (none is expected)
_MAX_PARTS = 4
_AGAIN = "send the file again from the import page"


class UploadError(FreeholdError):
    """An upload that is not one file in a multipart/form-data body."""


class ImportRunningError(FreeholdError):
    """Another import started from the web app is running (one at a time): the page says so
    (409) and the person sends the file again when it is done."""


class _Upload:
    """The receiving end of ``python_multipart``'s streaming parser: the part named ``file``
    goes to ``folder/<cleaned name>``; other parts are counted, capped and dropped."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path: Path | None = None
        self.out: IO[bytes] | None = None
        self.pending = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.writing = False
        self.parts = 0
        self.other = 0
        self.ended = False

    async def receive(self, content_type: str, body: AsyncIterator[bytes]) -> Path:
        """Parse the whole body into the file; UploadError unless it is a well-formed form
        holding the file."""
        parser = self.parser(content_type)
        try:
            async for chunk in body:
                parser.write(chunk)
                await self.flush(_FLUSH_AT)
        except FormParserError as error:  # the library's one base for what it cannot parse
            raise UploadError(f"This is not a valid upload ({error}); {_AGAIN}") from error
        if not self.ended:  # python-multipart's finalize() does not check it
            raise UploadError(f"The upload ended before its closing boundary; {_AGAIN}")
        await self.flush(0)
        if self.path is None:
            raise UploadError("Nothing was uploaded.")
        return self.path

    def parser(self, content_type: str) -> MultipartParser:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UploadError(
                "Nothing was uploaded. Send the export as a file from the import page's form "
                "(multipart/form-data)."
            )
        callbacks: Any = {
            "on_part_begin": self._begin,
            "on_header_field": self._field,
            "on_header_value": self._value,
            "on_header_end": self._header,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
            "on_end": self._finished,
        }
        try:
            return MultipartParser(boundary, callbacks)
        except FormParserError as error:  # e.g. a boundary over 70 characters
            raise UploadError(f"This is not a valid upload ({error}); {_AGAIN}") from error

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > _MAX_PARTS:
            raise UploadError("The upload holds too many parts; send one file.")
        self.headers, self.writing, self.other = {}, False, 0

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def _header(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field = self.value = b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if options.get(b"name") != b"file" or not filename or self.path is not None:
            return  # not the file: its bytes are dropped
        name = clean_name(_unescaped(filename.decode("utf-8", "replace")))
        self.path = self.folder / name
        with storage.guarded(self.path):
            self.out = _private.open_new(self.path)  # 0600
        self.writing = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.writing:
            self.pending += data[start:end]
            return
        self.other += end - start
        if self.other > _MAX_FIELD:
            raise UploadError("A form field other than the file is too large.")

    def _end(self) -> None:
        self.writing = False

    def _finished(self) -> None:
        self.ended = True

    async def flush(self, at_least: int) -> None:
        if self.out is not None and self.pending and len(self.pending) >= at_least:
            data, self.pending = bytes(self.pending), bytearray()
            await run_in_threadpool(self._write, data)

    def _write(self, data: bytes) -> None:
        assert self.out is not None and self.path is not None
        with storage.guarded(self.path):
            self.out.write(data)

    def close(self) -> None:
        """Close the file, its last bytes written (``StorageError`` when they cannot be)."""
        if self.out is not None and self.path is not None:
            with storage.guarded(self.path):
                self.out.close()

    def discard(self) -> None:
        """Close the file of an upload being abandoned: what it still held is not wanted."""
        if self.out is not None:
            with contextlib.suppress(OSError):
                self.out.close()
