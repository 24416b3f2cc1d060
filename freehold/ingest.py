"""Import one export into the archive and account for every piece of it.

``import_path`` picks the importer (``detect``), streams its records into the archive in
batches (one transaction each, so a kill -9 loses at most the batch in flight and a re-run
completes the job), stores attachments once per pointer, and fills an ``ImportReport``: what was
read, what was new, updated or unchanged, per content type, attachments found and missing,
anything not understood, and every problem. A bad conversation is a problem, never the end of
the import; the report's ``ok`` is False whenever anything was skipped.

``prepared`` (conform, count, store attachment bytes, serialise) and ``ImportReport.count``
are the import's write path for one conversation; ``freehold reparse`` (``reparse.py``) feeds
the conversations it converts again from kept raw JSON through them too. Both write loops
count through ``Batch``: what a report says was stored is what was committed, so the report
an interrupted run saves matches the archive (the batch rolled back is not counted; the
problems seen reading it are still listed).
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from freehold.archive import AddResult, Archive, BlobsPlaced, Prepared, prepare, write_blob
from freehold.errors import BadExportError, FreeholdError, StorageError
from freehold.importers._conform import conform
from freehold.importers._plan import Plan, plan
from freehold.importers._skeleton import READ_ERRORS
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    ExportInfo,
    Problem,
    SourceFile,
)
from freehold.storage import sha256_of

__all__ = [
    "Batch",
    "ImportReport",
    "Progress",
    "Reader",
    "detect_importer",
    "finish",
    "finish_failed",
    "import_path",
    "prepared",
]

Progress = Callable[[int, int, int], None]
_BATCH_CONVERSATIONS = 500
_BATCH_BYTES = 16 << 20
_MAX_LISTED_PROBLEMS = 1000
_PROCESS_THRESHOLD = 16 << 20
_PIPE_BATCH = 32
_PIPE_QUEUE = 16
_WRITER_WAITING = 2
_BEHIND = 4
_PROGRESS_EVERY = 50
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Containers allocated between two young-generation collections during an import (Python's
# default is 700): parsing and converting allocate millions, nearly all freed by their counts,
# and each collection walks what is alive, a batch of conversations on either side. 6-7 % less
# CPU for a 200 MB import (docs/performance.md); cyclic garbage, if any, waits a little longer.
_YOUNG_COLLECTION = 200_000


@dataclass
class ImportReport:
    """Everything an import read, changed and could not understand."""

    path: str
    kind: str = ""
    source_id: int = 0
    files: list[tuple[str, int]] = field(default_factory=list)
    conversations: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    content_types: Counter[str] = field(default_factory=Counter)
    not_understood: Counter[str] = field(default_factory=Counter)
    attachments: Counter[str] = field(default_factory=Counter)
    context_records: int = 0
    kept_files: list[str] = field(default_factory=list)
    gone_upstream: int = 0
    back_upstream: int = 0  # conversations flagged gone upstream that it brought: flags cleared
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    lost_count: int = 0

    @property
    def ok(self) -> bool:
        return self.lost_count == 0 and self.conversations["skipped"] == 0

    def problem(self, problem: Problem) -> None:
        self.problem_count += 1
        self.lost_count += int(problem.lost)
        self.conversations["skipped"] += problem.skipped
        if len(self.problems) < _MAX_LISTED_PROBLEMS:
            self.problems.append(problem)

    def count(self, ready: Prepared, tally: _Tally, result: AddResult) -> None:
        """What reading one conversation (``tally``) and writing it (``result``) came to."""
        self.conversations["read"] += 1
        self.messages["read"] += tally.messages
        self.content_types.update(tally.content_types)
        self.not_understood.update(tally.not_understood)
        self.context_records += tally.context_records
        for problem in tally.problems:
            self.problem(problem)
        self.conversations[result.status] += 1
        self.conversations["reread"] += result.reread
        self.conversations["reread_unversioned"] += result.unversioned
        self.messages["new"] += result.messages_new
        self.messages["updated"] += result.messages_updated
        self.messages["unchanged"] += result.messages_unchanged
        for note in result.notes:  # repairs: reported once, by the import that made them
            self.problem(Problem(f"conversation {ready.head.source_id}", note, lost=False))
        found, missing = result.attachments_found, result.attachments_missing
        self.attachments.update(
            referenced=found + missing, found=found, missing=missing, stored=result.files_new
        )

    def add(self, other: ImportReport) -> None:
        """Add ``other``'s counts and problems to these (a committed batch's, ``Batch``)."""
        for mine, theirs in (
            (self.conversations, other.conversations),
            (self.messages, other.messages),
            (self.content_types, other.content_types),
            (self.not_understood, other.not_understood),
            (self.attachments, other.attachments),
        ):
            mine.update(theirs)
        self.context_records += other.context_records
        self.kept_files += other.kept_files
        self.problem_count += other.problem_count
        self.lost_count += other.lost_count
        self.problems += other.problems[: max(0, _MAX_LISTED_PROBLEMS - len(self.problems))]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "source_id": self.source_id,
            "ok": self.ok,
            "files": [{"name": name, "bytes": size} for name, size in self.files],
            "conversations": _counts(
                self.conversations, "read new updated unchanged skipped reread reread_unversioned"
            ),
            "messages": _counts(self.messages, "read new updated unchanged"),
            "content_types": dict(self.content_types.most_common()),
            "not_understood": dict(self.not_understood.most_common()),
            "attachments": _counts(self.attachments, "referenced found missing stored"),
            "context_records": self.context_records,
            "kept_files": self.kept_files,
            "gone_upstream": self.gone_upstream,
            "back_upstream": self.back_upstream,
            "problems": [{"where": p.where, "what": p.what, "lost": p.lost} for p in self.problems],
            "problem_count": self.problem_count,
        }


def _counts(counter: Counter[str], keys: str) -> dict[str, int]:
    return {key: counter[key] for key in keys.split()}


class Batch:
    """One write transaction's share of a report, for both write loops (``_Writer`` and
    ``reparse``): what it stores is counted in ``counts`` (a report of its own) and its
    per-conversation ``rows`` (reparse's items) are held, both added to the report only once
    the transaction is committed — a report's counts of what was stored are what the archive
    holds, also when a run is interrupted. Rolled back, only the problems seen while reading
    it are kept (``seen``: they are the export's, whatever became of the batch); the repairs
    its writes made (``AddResult.notes``) went with them."""

    def __init__(
        self, archive: Archive, report: ImportReport, rows: list[dict[str, Any]] | None = None
    ) -> None:
        self.archive = archive
        self.report = report
        self._rows_into = rows
        self.counts = ImportReport(report.path)
        self.rows: list[dict[str, Any]] = []
        self.seen: list[Problem] = []

    def begin(self) -> None:
        self.archive.begin()

    def problem(self, problem: Problem) -> None:
        """A problem seen reading the batch: listed whether or not the batch is kept."""
        self.seen.append(problem)
        self.counts.problem(problem)

    def count(self, ready: Prepared, tally: _Tally, result: AddResult) -> None:
        self.seen += tally.problems
        self.counts.count(ready, tally, result)

    def commit(self, *, dry_run: bool = False) -> None:
        """Keep the writes (a dry run rolls them back, as it means to) and add their counts."""
        if dry_run:
            self.archive.rollback()
        else:
            self.archive.commit()
        self._settle(kept=True)

    def rollback(self) -> None:
        """Undo the writes; of what was counted, only the problems seen stay. A stop that
        lands after the batch's ``COMMIT`` (``Archive.committed``) finds nothing to undo: its
        counts are added as ``commit`` adds them, so the report counts what the archive holds."""
        kept = self.archive.committed()
        self.archive.rollback()
        self._settle(kept=kept)

    def _settle(self, *, kept: bool) -> None:
        """The batch's counts into the report (all when ``kept``; else only the problems seen),
        the batch emptied for the next one."""
        counts, rows, seen = self.counts, self.rows, self.seen
        self.counts, self.rows, self.seen = ImportReport(self.report.path), [], []
        if kept:
            self.report.add(counts)
            if self._rows_into is not None:
                self._rows_into += rows
            return
        for problem in seen:
            self.report.problem(problem)


def detect_importer(path: Path) -> Any:
    """The importer module that reads ``path`` (the first, when it holds several exports).

    A broken or refused zip says so rather than being reported as an unknown export; a path no
    importer reads raises ``UnknownExportError`` saying what it is and what to do.
    """
    return plan(path).parts[0].load()


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    return sha256_of(path)


def import_path(
    archive: Archive,
    path: Path,
    progress: Progress | None = None,
    *,
    reader_process: bool | None = None,
) -> ImportReport:
    """Import one export; raises only when the whole file cannot be read.

    Exports over ``_PROCESS_THRESHOLD`` bytes are read in a second process (``reader_process``
    forces the choice either way).
    """
    with _fewer_collections(), closing(plan(path, keep=True)) as found:
        return _read(archive, path, found, progress, reader_process)


class _Importing:
    """Imports under way in this process, and the young-generation threshold before them."""

    lock = threading.Lock()
    count = 0
    before = 0


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect the young generation every ``_YOUNG_COLLECTION`` allocations while importing
    (a forked reader inherits it); the last import to end puts the setting back (a server
    may run two at once)."""
    with _Importing.lock:
        if _Importing.count == 0:
            _Importing.before = gc.get_threshold()[0]
            gc.set_threshold(_YOUNG_COLLECTION, *gc.get_threshold()[1:])
        _Importing.count += 1
    try:
        yield
    finally:
        with _Importing.lock:
            _Importing.count -= 1
            if _Importing.count == 0:
                gc.set_threshold(_Importing.before, *gc.get_threshold()[1:])


def _read(
    archive: Archive,
    path: Path,
    found: Plan,
    progress: Progress | None,
    reader_process: bool | None,
) -> ImportReport:
    size = _size(path)
    archive.sweep_temporary()  # what an import killed before left in blobs/tmp
    if reader_process is None:
        reader_process = _unpacked_size(path, size) > _PROCESS_THRESHOLD
    items = (
        _from_process(found, path, archive.blobs)
        if reader_process
        else _items(found, path, archive.blobs)
    )
    try:
        sha256 = _sha256(path)  # while the reader process starts
        first = next(items, None)
        if not isinstance(first, ExportInfo):
            raise BadExportError(f"{path.name}: the {found.kind} importer found nothing to read")
        report = ImportReport(path=str(path), kind=found.kind, files=first.files)
        report.source_id = archive.begin_source(
            found.kind, path.name, sha256, size if path.is_file() else None, found.version
        )
        try:
            _Writer(archive, report, first, progress).consume(items)
            if first.full_export and first.account_id and report.ok:
                report.gone_upstream = archive.mark_gone_upstream(
                    found.kind, first.account_id, report.source_id
                )
            # Inside the try: a signal (SIGTERM) that lands here still leaves it `failed`.
            status = "complete" if report.ok else "partial"
            finish(archive, report, status, first.account_id)
        except BaseException as error:
            finish_failed(archive, report, first.account_id, error)
            raise
    finally:
        items.close()
    return report


def finish_failed(
    archive: Archive, report: ImportReport, account_id: str | None, error: BaseException
) -> None:
    """An import that stops after its source row was written leaves it ``failed``, with the
    report so far and what stopped it, never ``running``; the batches already committed stay."""
    what = "SIGINT received" if isinstance(error, KeyboardInterrupt) else str(error)
    what = what or type(error).__name__
    report.problem(Problem(Path(report.path).name, f"the import stopped: {what}"))
    try:
        finish(archive, report, "failed", account_id)
    except Exception:  # the archive itself failed: the first error is the one to tell
        return


def finish(archive: Archive, report: ImportReport, status: str, account: str | None) -> None:
    """Save the report with the source's end (an import's, a reparse's), which clears the
    gone-upstream flags of the conversations it brought back: counted first
    (``back_upstream``), never cleared unsaid."""
    report.back_upstream = archive.brought_back(report.source_id)
    archive.finish_source(report.source_id, status, report.to_json(), account)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _unpacked_size(path: Path, size: int) -> int:
    """What there is to parse, at least: a zip's members inflated, else the bytes on disk.

    A file over the threshold is over it unpacked too, without reading the zip's directory
    again (90 ms for one of 6,700 members)."""
    if size <= _PROCESS_THRESHOLD and path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    return size


@dataclass(slots=True)
class _Tally:
    """What the reading side counted for one conversation (the writer owns the report)."""

    messages: int = 0
    content_types: Counter[str] = field(default_factory=Counter)
    not_understood: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    context_records: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with plain dicts: unpickling a ``Counter`` runs Python code per entry, and
        the writer only ever adds these counts to the report's own Counters."""
        counts = (dict(self.content_types), dict(self.not_understood))
        return (_Tally, (self.messages, *counts, self.problems, self.context_records))


def _items(
    source: Plan | Any, path: Path, blobs: Path, seal: Callable[[], bool] | None = None
) -> Generator[Any, None, None]:
    """The reading side: records become (Prepared, tally, raw size); other records pass.

    ``source`` is the import's ``Plan`` (or one importer module, reading all of ``path``).
    ``seal`` says, conversation by conversation, whether to seal it here (the default) or
    leave that to the writer (``Archive.add_conversation`` seals what comes unsealed).
    """
    records = source.records() if isinstance(source, Plan) else source.iter_conversations(path)
    yield from prepared(records, path.name, Reader(blobs), seal)


def prepared(
    records: Iterable[Any], label: str, reader: Reader, seal: Callable[[], bool] | None = None
) -> Generator[Any, None, None]:
    """Records as the writer takes them: each conversation (Prepared, tally, raw size), its
    attachments' bytes stored by ``reader``; other records as they are. Every conversation
    is first made to conform to the model's types, whatever importer made it: an odd value
    is dropped and noted, and only one without a usable id is skipped (``label`` names
    where it came from)."""
    for record in records:
        if isinstance(record, Conversation):
            try:
                conform(record)
            except ValueError as error:
                where = f"{label}: a {record.source_kind!s} conversation"
                yield Problem(where, f"{error}; it was skipped — report this importer", skipped=1)
                continue
            tally = reader.tally(record)
            yield prepare(record, seal=seal is None or seal()), tally, len(record.raw)
        else:
            yield record


class Reader:
    """Counts a conversation and stores its attachments' bytes, once per pointer."""

    def __init__(self, blobs: Path) -> None:
        self.blobs_dir = blobs
        self.placed = BlobsPlaced()
        self.blobs: dict[str, tuple[str, str | None, int] | None] = {}

    def tally(self, conv: Conversation) -> _Tally:
        tally = _Tally(messages=len(conv.messages), context_records=len(conv.context))
        for message in conv.messages:
            tally.content_types[message.content_type] += 1
            if any(part.get("type") == "unknown" for part in message.parts):
                tally.not_understood[message.content_type] += 1
            for ref in message.attachments:
                self._attachment(ref, tally)
        return tally

    def _attachment(self, ref: AttachmentRef, tally: _Tally) -> None:
        """Store the bytes once per pointer; the writer counts the links (``AddResult``)."""
        key = f"{ref.pointer}\x00{ref.sha256 or ''}"
        if key not in self.blobs and ref.opener is not None:
            self.blobs[key] = None
            try:
                with ref.opener() as stream:
                    self.blobs[key] = write_blob(self.blobs_dir, stream, self.placed)
            except StorageError:  # the archive's disk, not the export: the import stops
                raise
            except READ_ERRORS as error:  # a damaged member raises once its bytes are read
                tally.problems.append(Problem(ref.pointer, f"attachment unreadable: {error}"))
        blob = self.blobs.get(key)
        if blob is not None:
            ref.sha256, ref.sniffed_mime, ref.size = blob
        elif ref.opener is not None:  # an importer's SHA-256 only found the file: never a row
            ref.sha256 = None  # for bytes that were not stored (the archive's ``_links``)


def _child(
    source: Plan | str,
    path: str,
    blobs: str,
    conn: Connection,
    parent: int,
    inherited: Connection | None,
) -> None:
    """Entry point of the reader process: sends batches of items, then None.

    Batches are pickled here and written to the pipe by a sender thread, so parsing goes on
    while the writer is busy (a commit, a big conversation) and the 64 KiB pipe is full: a
    thread blocked in ``write`` releases the GIL. At most ``_PIPE_QUEUE`` batches wait.

    It never outlives the writer (``parent``): a forked child first closes its copy of the
    pipe's reading end (``inherited``), so a send fails (EPIPE) once the writer's is closed,
    whatever ended the writer; and ``_bound_to`` has the kernel end it with its parent, even
    while it parses and sends nothing.
    """
    if inherited is not None:
        inherited.close()
    if not _bound_to(parent):
        conn.close()
        return
    # What the process started with (a forked copy of the writer's objects, or the modules a
    # spawned one imported) is never garbage here: kept out of every collection, so the
    # collector neither walks it nor, in a fork, copies the pages it would touch.
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION, *gc.get_threshold()[1:])  # spawned: not inherited
    outbox = _Outbox(conn)
    try:
        batch: list[Any] = []
        found = importlib.import_module(source) if isinstance(source, str) else source
        for item in _items(found, Path(path), Path(blobs), seal=outbox.behind):
            batch.append(item)
            if len(batch) >= _PIPE_BATCH or isinstance(item, ExportInfo):
                outbox.put(batch)
                batch = []
        outbox.put(batch)
        outbox.put(None)
    except _WriterGone:
        return
    except BaseException as error:
        outbox.put(_portable(error))
    finally:
        outbox.close()
        conn.close()


def _bound_to(parent: int) -> bool:
    """Have the kernel kill this process when its parent ends (Linux: ``PR_SET_PDEATHSIG``;
    elsewhere the failed send alone stops it), and say whether ``parent`` is still its parent:
    it may have ended before the request. A forked reader also drops the writer's handlers for
    SIGTERM and SIGHUP (the CLI's, which would stop it as if it were the import): it just ends."""
    for number in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if number is not None:
            signal.signal(number, signal.SIG_DFL)
    if sys.platform == "linux":
        import ctypes  # here, in the reader only: 3 ms of every import's start otherwise

        with suppress(OSError, AttributeError):  # no prctl to call: EPIPE still stops it
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent


class _WriterGone(Exception):
    """The writer closed its end of the pipe: nothing more to read for."""


class _Outbox:
    """Pickled batches handed to a thread that writes them to the pipe in order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_PIPE_QUEUE)
        self.failed = False
        self.thread = threading.Thread(target=self._send_all, name="freehold-send", daemon=True)
        self.thread.start()

    def behind(self) -> bool:
        """Whether the writer is the slower side now (batches wait for it here): then this
        process seals the conversations it sends, else the writer does (``_child``)."""
        return self.queue.qsize() >= _BEHIND

    def put(self, batch: Any) -> None:
        if self.failed:
            raise _WriterGone
        self.queue.put(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))

    def _send_all(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.failed:
                continue  # drain, so a producer blocked on a full queue wakes up
            try:
                self.conn.send_bytes(data)
            except OSError:
                self.failed = True

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()


def _portable(error: BaseException) -> BaseException:
    """The error itself if it survives pickling, else a FreeholdError that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return FreeholdError(f"import failed in the reader: {type(error).__name__}: {error}")
    return error


def _from_process(source: Plan | Any, path: Path, blobs: Path) -> _ReaderProcess:
    """Run ``_items`` in a second process: parsing on one core, SQLite on the other."""
    return _ReaderProcess(source, path, blobs)


class _ReaderProcess:
    """The items ``_items`` makes in a second process, as they come; the process starts at
    once, so the caller can work meanwhile (hash the export) instead of waiting for it.

    The pipe is drained after every item handed to the writer (it holds only 64 KiB, and
    SQLite holds the GIL while it works, which starves any draining thread), but at most
    ``_WRITER_WAITING`` batches wait here: a writer that falls behind shows in the reader's
    outbox, which then seals what it sends (``_Outbox.behind``).
    """

    def __init__(self, source: Plan | Any, path: Path, blobs: Path) -> None:
        forked = _start_method() == "fork"
        context = (
            multiprocessing.get_context("fork") if forked else multiprocessing.get_context("spawn")
        )
        self.receiver, sender = context.Pipe(duplex=False)
        given = source if isinstance(source, Plan) else source.__name__
        # A forked child holds a copy of every descriptor here, the receiver's too, which it
        # must close (``_child``); a spawned one is handed only the sender.
        inherited = self.receiver if forked else None
        args = (given, str(path), str(blobs), sender, os.getpid(), inherited)
        self.process = context.Process(target=_child, args=args, daemon=True)
        self.process.start()
        sender.close()
        self.path = path
        self.items = self._received()

    def __iter__(self) -> _ReaderProcess:
        return self

    def __next__(self) -> Any:
        return next(self.items)

    def close(self) -> None:
        """Stop the process (whatever it was doing) and wait for it."""
        self.items.close()
        self._stop()

    def _stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.receiver.close()

    def _received(self) -> Generator[Any, None, None]:
        waiting: deque[bytes] = deque()
        try:
            while True:
                if not waiting:
                    waiting.append(_receive(self.receiver, self.path))
                batch = pickle.loads(waiting.popleft())
                if batch is None:
                    return
                if isinstance(batch, BaseException):
                    raise batch
                for item in batch:
                    yield item
                    _drain(self.receiver, waiting)
        finally:
            self._stop()


def _start_method() -> str:
    """How the reader process starts: forked on Linux while this process runs one thread (a
    copy of this process, its modules loaded: 0.25-0.3 s of CPU less on the import's critical
    path than a fresh interpreter importing them again), else spawned. The reader touches
    nothing the writer holds: not the archive's connection, not the console; the progress bar's
    thread starts after it (``progress.reading``). Elsewhere, and beside other threads (a
    server's), spawning is the safe way."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _drain(receiver: Connection, waiting: deque[bytes]) -> None:
    """Take what the pipe holds now, without waiting (an ended pipe is noticed later)."""
    try:
        while len(waiting) < _WRITER_WAITING and receiver.poll(0):
            waiting.append(receiver.recv_bytes())
    except (EOFError, OSError):
        return


def _receive(receiver: Connection, path: Path) -> bytes:
    try:
        return receiver.recv_bytes()
    except (EOFError, OSError):
        raise FreeholdError(
            f"{path.name}: the reader process stopped unexpectedly — run the command again"
        ) from None


class _Writer:
    """The writing side: batches of items, one transaction each, and the report."""

    def __init__(
        self, archive: Archive, report: ImportReport, info: ExportInfo, progress: Progress | None
    ) -> None:
        self.archive = archive
        self.report = report
        self.batch = Batch(archive, report)
        self.progress = progress
        self.total = sum(size for _, size in info.files)
        self.done_bytes = 0
        self._tick()

    def consume(self, items: Iterator[Any]) -> None:
        """Write items as they come, committing every batch (a kill loses one batch at most)."""
        done = True
        count = size = 0
        try:
            for item in items:
                if done:
                    self.batch.begin()
                    done = False
                self._one(item)
                count += 1
                size += item[2] if isinstance(item, tuple) else 0
                if count >= _BATCH_CONVERSATIONS or size >= _BATCH_BYTES:
                    self._commit()
                    done, count, size = True, 0, 0
                elif count % _PROGRESS_EVERY == 0:
                    self._tick()
            if not done:
                self._commit()
        except BaseException:  # a signal during the last commit too: no transaction left open
            self.batch.rollback()
            raise

    def _commit(self) -> None:
        self.batch.commit()
        self._tick()

    def _tick(self) -> None:
        if self.progress is not None:
            read = self.report.conversations["read"] + self.batch.counts.conversations["read"]
            self.progress(self.done_bytes, self.total, read)

    def _one(self, item: Any) -> None:
        if isinstance(item, tuple):
            self._conversation(*item)
        elif isinstance(item, SourceFile):
            self.archive.add_source_file(self.report.source_id, item.name, item.raw)
            self.batch.counts.kept_files.append(item.name)
        elif isinstance(item, Problem):
            self.batch.problem(item)
        elif isinstance(item, ContextRecord):
            self.archive.add_account_context(item)
            self.batch.counts.context_records += 1

    def _conversation(self, ready: Prepared, tally: _Tally, size: int) -> None:
        self.done_bytes += size
        result = self.archive.add_conversation(ready, self.report.source_id)
        self.batch.count(ready, tally, result)
