"""Convert stored conversations again from the raw JSON the archive kept (``freehold reparse``).

A fix in an importer (a higher ``PARSER_VERSION``, ``importers/_skeleton.py``) used to reach a
stored conversation only when its export was imported again, and the export may be gone with
its platform. ``due`` lists the conversations an older version of their importer made (or
all, ``everything``); ``run`` converts each one's kept raw JSON (the copy its row shows) with
the importer's ``reconvert`` and writes it through the import's own write path: the same
``ingest.prepared`` (conform, count, attachment bytes) and ``Archive.add_conversation``, as
the re-read of a re-import does, so turns written here, the reader's stars and every message
an older copy had are kept exactly as a re-import keeps them. Its report is an import's
(``ImportReport``), and a run is a ``sources`` row (``freehold reparse``) like an import, so
what reads the archive since an import (embeddings) sees it.

What an import knew from the export is rebuilt from the archive (``Kept``): the account id
from the conversation's row, the import's kept files the importer names (Claude's
``projects.json``), and the files its messages link to, by pointer, with the names they were
stored under — so an attachment stored stays linked, and one the archive lacks stays missing.
A gone-upstream flag stays (converting proves nothing about the platform). A conversation
that cannot be converted again — no importer of its kind here, one that cannot convert kept
raw JSON (``refuses_again``), its raw JSON not kept, another identity once converted, a newer
version stored than this freehold's — is counted as skipped with a problem that names it,
and left exactly as it was; the rest go on.

Batches of ``_BATCH`` conversations are one transaction each, counted as the import's are
(``ingest.Batch``): an interrupted run leaves every batch before it converted and the rest as
they were, its report counting the batches committed, and a second run converts what is left
(those converted now carry the current version). ``dry_run`` does all of it and rolls each
batch back: the report says what would change, and nothing does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from freehold import plugins
from freehold._kept import Stored
from freehold.archive import AddResult, Archive, newer_parser
from freehold.importers._skeleton import Kept
from freehold.ingest import Batch, ImportReport, Reader, finish, finish_failed, prepared
from freehold.models import AttachmentRef, Conversation, Problem, Record

__all__ = ["FILE_NAME", "ReparseReport", "due", "run"]

FILE_NAME = "freehold reparse"  # the ``sources.file_name`` of a run
_BATCH = 200

Tick = Callable[[int], None]


@dataclass
class ReparseReport:
    """What a run read, converted again, updated, left unchanged and could not convert, in
    all and per source kind."""

    dry_run: bool
    counts: ImportReport
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.counts.ok

    def to_json(self) -> dict[str, Any]:
        counts = self.counts.to_json()
        read = counts["conversations"]
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            # a dry run's rows are rolled back, and nothing to convert makes none (0)
            "source_id": None if self.dry_run else counts["source_id"] or None,
            "conversations": {
                "read": read["read"] + read["skipped"],
                "converted": read["read"],  # every one not skipped was converted again
                "updated": read["updated"],
                "unchanged": read["unchanged"],
                "skipped": read["skipped"],
            },
            "sources": self._per_kind(),
            "messages": counts["messages"],
            "attachments": counts["attachments"],
            "items": self.items,
            "problems": counts["problems"],
            "problem_count": counts["problem_count"],
        }

    def _per_kind(self) -> dict[str, dict[str, int]]:
        """The conversations' counts of each source kind, from the items (one per
        conversation read)."""
        kinds: dict[str, Counter[str]] = {}
        for item in self.items:
            tally = kinds.setdefault(item["source_kind"], Counter())
            tally.update(read=1, converted=item["status"] != "skipped")
            tally[item["status"]] += 1
        keys = ("read", "converted", "updated", "unchanged", "skipped")
        return {kind: {key: kinds[kind][key] for key in keys} for kind in sorted(kinds)}


def due(archive: Archive, *, kind: str | None = None, everything: bool = False) -> list[Stored]:
    """The conversations to convert again: those an older version of their importer stored
    (its version unknown counts as older), or, with ``everything``, all that came from
    elsewhere; of ``kind`` only, when given. One of a kind no importer here reads is listed
    too (``run`` reports it)."""
    importers = plugins.importers()
    found = []
    for stored in archive.stored(kind):
        module = importers.get(stored.kind)
        current = getattr(module, "PARSER_VERSION", None)
        if everything or module is None or newer_parser(stored.parser_version, current):
            found.append(stored)
    return found


def run(
    archive: Archive, todo: list[Stored], *, dry_run: bool = False, progress: Tick | None = None
) -> ReparseReport:
    """Convert ``todo`` again (module docstring); raises only when the archive itself
    refuses (busy, not writable), after marking the run's ``sources`` row failed."""
    report = ReparseReport(dry_run, ImportReport(path=FILE_NAME, kind=_kinds(todo)))
    if not todo:
        return report
    versions = _versions(todo)
    counts = report.counts
    if not dry_run:
        counts.source_id = archive.begin_source(counts.kind, FILE_NAME, None, None, versions)
    try:
        _Run(archive, report, versions).batches(todo, progress)
        if not dry_run:
            status = "complete" if report.ok else "partial"
            finish(archive, counts, status, None)
    except BaseException as error:
        if not dry_run:
            finish_failed(archive, counts, None, error)
        raise
    return report


def _kinds(todo: list[Stored]) -> str:
    return "+".join(sorted({stored.kind for stored in todo}))


def _versions(todo: list[Stored]) -> str:
    importers = plugins.importers()
    kinds = sorted({stored.kind for stored in todo} & set(importers))
    return "+".join(str(getattr(importers[kind], "PARSER_VERSION", kind)) for kind in kinds)


class _Run:
    """One run: batches of conversations, one transaction each, and the report."""

    def __init__(self, archive: Archive, report: ReparseReport, versions: str) -> None:
        self.archive = archive
        self.report = report
        self.versions = versions
        self.importers = plugins.importers()
        self.reader = Reader(archive.blobs)
        self.files: dict[tuple[int, str], dict[str, bytes]] = {}
        self.batch = Batch(archive, report.counts, report.items)
        self.done = 0

    def batches(self, todo: list[Stored], progress: Tick | None) -> None:
        for start in range(0, len(todo), _BATCH):
            self.batch.begin()
            try:
                source_id = self._source_id()
                for stored in todo[start : start + _BATCH]:
                    self.one(stored, source_id)
                    self.done += 1
                    if progress is not None:
                        progress(self.done)
                self.batch.commit(dry_run=self.report.dry_run)
            except BaseException:  # a signal during the commit too: no transaction left open
                self.batch.rollback()
                raise

    def _source_id(self) -> int:
        """The run's ``sources`` row; a dry run's is made in each batch and rolled back."""
        counts = self.report.counts
        if not self.report.dry_run:
            return counts.source_id
        return self.archive.begin_source(
            counts.kind, FILE_NAME, None, None, self.versions, inside=True
        )

    def one(self, stored: Stored, source_id: int) -> None:
        module: Any = self.importers.get(stored.kind)
        converted = self._converted(stored, module)
        if isinstance(converted, str):
            self._skip(stored, converted)
            return
        conversation, problems = converted
        conversation.parser_version = module.PARSER_VERSION
        conversation.gone_upstream_at = stored.gone_upstream_at  # proves nothing upstream
        self._relink(conversation, self.archive.attachment_links(stored.cid))
        for problem in problems:
            self.batch.problem(problem)
        label = f"{stored.kind} conversation {stored.source_id}"
        for item in prepared([conversation], label, self.reader):
            if isinstance(item, Problem):
                self._skip(stored, item.what)
                continue
            ready, tally, _ = item
            again = not newer_parser(stored.parser_version, module.PARSER_VERSION)
            result = self.archive.add_conversation(ready, source_id, again=again)
            self.batch.count(ready, tally, result)
            self._item(stored, module.PARSER_VERSION, result.status, result=result)

    def _converted(self, stored: Stored, module: Any) -> tuple[Conversation, list[Problem]] | str:
        """The conversation converted again and its problems, or why it cannot be."""
        fmt = getattr(module, "FORMAT", None)
        if module is None:
            return f"no importer of {stored.kind!r} here — install the plugin that imported it"
        if fmt is None:
            return "its importer cannot convert kept raw JSON (no FORMAT) — import its export again"
        if fmt.refuses_again:
            return str(fmt.refuses_again)
        current = module.PARSER_VERSION
        if stored.parser_version and newer_parser(current, stored.parser_version):
            return f"stored by {stored.parser_version}, newer than this freehold's {current}"
        kept = self.archive.kept_raw(stored.cid, stored.raw_sha256)
        if kept is None:
            return "its raw JSON is not in the archive — import its export again to convert it"
        raw, raw_source = kept
        records = list(fmt.reconvert(raw, self._kept(stored, fmt, raw_source)))
        return _one_conversation(stored, records)

    def _kept(self, stored: Stored, fmt: Any, raw_source: int | None) -> Kept:
        wanted = fmt.kept_files
        files: dict[str, bytes] = {}
        if wanted is not None and raw_source is not None:
            key = (raw_source, wanted.pattern)
            if key not in self.files:
                self.files[key] = self.archive.kept_files(raw_source, wanted)
            files = self.files[key]
        return Kept(stored.source_id, stored.account_id, files)

    def _relink(
        self,
        conversation: Conversation,
        links: dict[tuple[str, str], tuple[str | None, str | None]],
    ) -> None:
        """Each attachment keeps the file and the name the archive holds for its message's
        pointer; a dry run writes no file."""
        for message in conversation.messages:
            for ref in message.attachments:
                link = links.get((message.source_id, ref.pointer))
                _relinked(ref, link, self.report.dry_run)

    def _skip(self, stored: Stored, why: str) -> None:
        where = f"{stored.kind} conversation {stored.source_id} ({stored.cid})"
        self.batch.problem(Problem(where, why, lost=False, skipped=1))
        self._item(stored, None, "skipped", why)

    def _item(
        self,
        stored: Stored,
        version: str | None,
        status: str,
        why: str = "",
        result: AddResult | None = None,
    ) -> None:
        """One conversation of the report: what converted it, and what that did (or would)
        to its messages."""
        item: dict[str, Any] = {
            "id": stored.cid,
            "source_kind": stored.kind,
            "title": stored.title,
            "parser_version": stored.parser_version,
            "converted_by": version,
            "status": status,
        }
        if why:
            item["why"] = why
        if result is not None:
            item["messages"] = {
                "new": result.messages_new,
                "updated": result.messages_updated,
                "unchanged": result.messages_unchanged,
            }
        self.batch.rows.append(item)


def _one_conversation(
    stored: Stored, records: list[Record]
) -> tuple[Conversation, list[Problem]] | str:
    conversations = [r for r in records if isinstance(r, Conversation)]
    problems = [r for r in records if isinstance(r, Problem)]
    if not conversations:
        return "; ".join(p.what for p in problems) or "its importer made nothing of it"
    conversation = conversations[0]
    identity = (conversation.source_kind, conversation.source_id)
    if len(conversations) > 1 or identity != (stored.kind, stored.source_id):
        made = ", ".join(f"{c.source_kind} {c.source_id}" for c in conversations)
        return f"converted again it is another conversation ({made}); left as it was"
    return conversation, problems


def _relinked(ref: AttachmentRef, link: tuple[str | None, str | None] | None, dry: bool) -> None:
    if dry:
        ref.opener = None
    if link is None:
        return
    sha, name = link
    if ref.opener is None and ref.sha256 is None:
        ref.sha256 = sha
    ref.name = ref.name or name
