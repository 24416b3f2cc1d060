"""Import one export into the archive and account for every piece of it.

``import_path`` picks the importer (``detect``), streams its records into the archive in
batches (one transaction each, so a kill -9 loses at most the batch in flight and a re-run
completes the job), stores attachments once per pointer, and fills an ``ImportReport``: what was
read, what was new, updated or unchanged, per content type, attachments found and missing,
anything not understood, and every problem. A bad conversation is a problem, never the end of
the import; the report's ``ok`` is False whenever anything was skipped.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freehold import plugins
from freehold.archive import Archive
from freehold.errors import BadExportError, UnknownExportError
from freehold.models import Conversation, ExportInfo, Problem, SourceFile

__all__ = ["ImportReport", "Progress", "detect_importer", "import_path"]

Progress = Callable[[int, int, int], None]
_BATCH_CONVERSATIONS = 500
_BATCH_BYTES = 32 << 20
_MAX_LISTED_PROBLEMS = 1000


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

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "source_id": self.source_id,
            "ok": self.ok,
            "files": [{"name": name, "bytes": size} for name, size in self.files],
            "conversations": _counts(self.conversations, "read new updated unchanged skipped"),
            "messages": _counts(self.messages, "read new updated unchanged"),
            "content_types": dict(self.content_types.most_common()),
            "not_understood": dict(self.not_understood.most_common()),
            "attachments": _counts(self.attachments, "referenced found missing stored"),
            "context_records": self.context_records,
            "kept_files": self.kept_files,
            "gone_upstream": self.gone_upstream,
            "problems": [{"where": p.where, "what": p.what, "lost": p.lost} for p in self.problems],
            "problem_count": self.problem_count,
        }


def _counts(counter: Counter[str], keys: str) -> dict[str, int]:
    return {key: counter[key] for key in keys.split()}


def detect_importer(path: Path) -> Any:
    """The importer module that recognises ``path``."""
    if not path.exists():
        raise BadExportError(f"{path}: no such file or folder — check the path")
    for module in plugins.importers().values():
        if module.detect(path):
            return module
    kinds = ", ".join(plugins.importers())
    raise UnknownExportError(
        f"{path.name}: not a known export (looked for: {kinds}) — expected a ChatGPT export "
        "zip, its unpacked folder, a conversations.json, or a folder written by "
        "`freehold export --format json`"
    )


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def import_path(archive: Archive, path: Path, progress: Progress | None = None) -> ImportReport:
    """Import one export; raises only when the whole file cannot be read."""
    module = detect_importer(path)
    size = path.stat().st_size if path.is_file() else None
    report = ImportReport(path=str(path), kind=module.KIND)
    records = module.iter_conversations(path)
    first = next(records, None)
    if not isinstance(first, ExportInfo):
        raise BadExportError(f"{path.name}: the {module.KIND} importer found nothing to read")
    report.files = first.files
    report.source_id = archive.begin_source(
        module.KIND, path.name, _sha256(path), size, module.PARSER_VERSION
    )
    _Run(archive, report, first, progress).consume(records)
    if first.full_export and first.account_id and report.ok:
        report.gone_upstream = archive.mark_gone_upstream(
            module.KIND, first.account_id, report.source_id
        )
    status = "complete" if report.ok else "partial"
    archive.finish_source(report.source_id, status, report.to_json(), first.account_id)
    return report


class _Run:
    """The loop of one import: batches, attachments, counting."""

    def __init__(
        self, archive: Archive, report: ImportReport, info: ExportInfo, progress: Progress | None
    ) -> None:
        self.archive = archive
        self.report = report
        self.progress = progress
        self.total = sum(size for _, size in info.files)
        self.done_bytes = 0
        self.blobs: dict[str, str | None] = {}

    def consume(self, records: Any) -> None:
        pending: list[Any] = []
        pending_bytes = 0
        for record in records:
            pending.append(record)
            if isinstance(record, Conversation):
                pending_bytes += len(record.raw)
            if len(pending) >= _BATCH_CONVERSATIONS or pending_bytes >= _BATCH_BYTES:
                self._write(pending)
                pending, pending_bytes = [], 0
        self._write(pending)

    def _write(self, batch: list[Any]) -> None:
        if not batch:
            return
        with self.archive.transaction():
            for record in batch:
                self._one(record)
        if self.progress is not None:
            self.progress(self.done_bytes, self.total, self.report.conversations["read"])

    def _one(self, record: Any) -> None:
        if isinstance(record, Conversation):
            self._conversation(record)
        elif isinstance(record, SourceFile):
            self.archive.add_source_file(self.report.source_id, record.name, record.raw)
            self.report.kept_files.append(record.name)
        elif isinstance(record, Problem):
            self.report.problem(record)

    def _conversation(self, conv: Conversation) -> None:
        report = self.report
        report.conversations["read"] += 1
        self.done_bytes += len(conv.raw)
        for message in conv.messages:
            report.messages["read"] += 1
            report.content_types[message.content_type] += 1
            if any(part.get("type") == "unknown" for part in message.parts):
                report.not_understood[message.content_type] += 1
            for ref in message.attachments:
                self._attachment(ref)
        report.context_records += len(conv.context)
        for text in conv.problems:
            report.problem(Problem(f"conversation {conv.source_id}", text, lost=False))
        result = self.archive.add_conversation(conv, report.source_id)
        report.conversations[result.status] += 1
        report.messages["new"] += result.messages_new
        report.messages["updated"] += result.messages_updated
        report.messages["unchanged"] += result.messages_unchanged

    def _attachment(self, ref: Any) -> None:
        counts = self.report.attachments
        counts["referenced"] += 1
        if ref.pointer in self.blobs:
            ref.sha256 = self.blobs[ref.pointer]
        elif ref.opener is not None:
            try:
                with ref.opener() as stream:
                    ref.sha256, _, _ = self.archive.store_blob(stream, ref.name)
                counts["stored"] += 1
            except (BadExportError, OSError) as error:
                self.report.problem(Problem(ref.pointer, f"attachment unreadable: {error}"))
            self.blobs[ref.pointer] = ref.sha256
        counts["found" if ref.sha256 else "missing"] += 1
