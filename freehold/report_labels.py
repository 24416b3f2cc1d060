"""The words of an import report, one table for every reader of it.

An import report (``ingest.ImportReport.to_json``) counts under internal keys (``reread``,
``reread_unversioned``, ``referenced``); ``LABELS`` is what each key is called, in English,
for the terminal's table (``render.import_report``) and the web app's page (``_report.html``,
which translates each label through its catalogue, ``web/i18n.py``). ``lines`` lays a report
out as labelled lines, the web page's rows and the terminal's caption alike, so neither names a
counter the other words differently, and neither shows a key. Names that come from the export
(content types, what was not understood) are data, shown as they are (``Line.named``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["COLUMNS", "LABELS", "Line", "label", "lines"]

LABELS: dict[str, str] = {
    "conversations": "conversations",
    "messages": "messages",
    "attachments": "attachments",
    "read": "read",
    "new": "new",
    "updated": "updated",
    "unchanged": "unchanged",
    "skipped": "skipped",
    "reread": "re-read by a newer importer",
    "reread_unversioned": "of them stored with no importer version",
    "referenced": "attachment links",
    "found": "with their file",
    "missing": "missing their file",
    "stored": "new attachment files",
    "context_records": "context records",
    "content_types": "content types",
    "not_understood": "not understood (kept raw)",
    "gone_upstream": "gone upstream",
    "back_upstream": "back upstream (flag cleared)",
}

COLUMNS = ("read", "new", "updated", "unchanged", "skipped")  # the counts of a row


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a report: its label and a number, or labelled counts. ``named``: the
    counts' names are the export's (content types), not labels to translate."""

    label: str
    value: int | None = None
    counts: tuple[tuple[str, int], ...] = ()
    named: bool = False


def label(key: str) -> str:
    """The words for a report's key; a key with none is a bug (``KeyError``), never shown."""
    return LABELS[key]


def lines(report: dict[str, Any]) -> list[Line]:
    """The report as lines, in the order both readers show them; a line with nothing to say
    (no re-read, nothing gone upstream) left out."""
    found = [_counted(report, "conversations"), _counted(report, "messages")]
    found.append(_counted(report, "attachments"))
    found.append(Line(label("context_records"), report["context_records"]))
    for key in ("content_types", "not_understood"):
        if report[key]:
            counts = tuple(report[key].items())[:12]
            found.append(Line(label(key), counts=counts, named=True))
    for key in ("gone_upstream", "back_upstream"):
        if report.get(key):  # a report saved before back_upstream was counted has none
            found.append(Line(label(key), report[key]))
    return found


def _counted(report: dict[str, Any], key: str) -> Line:
    """A section's counts under their labels; the re-read ones only when any was."""
    counts = report[key]
    shown = [name for name in counts if not name.startswith("reread") or counts.get("reread")]
    return Line(label(key), counts=tuple((label(name), counts[name]) for name in shown))
