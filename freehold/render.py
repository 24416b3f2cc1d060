"""Terminal rendering with rich: conversations, import reports, statistics, search hits.

Everything printed comes from untrusted text (titles, messages, file names), so text is always
passed to rich as ``Text`` (never parsed as console markup), and no character of it may reach
the terminal as a command: an export can hold escape sequences that set the clipboard (OSC 52),
the window title, or clear the screen, C1 controls, and bidi overrides that reorder a line.
``visible`` is the one rule: each such character is printed as its escape (``\\x1b``,
``\\u202e``), so nothing is obeyed and nothing is silently hidden. The builders below apply it
to every string they take from the archive (so rich lays out what will be printed), and
``Terminal``, the console the CLI prints with, applies it again to every segment it writes,
whatever the renderable; ``json_text`` escapes the same characters in JSON output.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from freehold._queries import FILE_NAME
from freehold.models import (
    CONTEXT_FIELDS,
    REVISION_LABEL,
    SHOWN_TEXT,
    Attempt,
    ContextRecord,
    Conversation,
    Generation,
    Message,
    Part,
    context_label,
    part_label,
    without_citation_marks,
)
from freehold.progress import plural
from freehold.report_labels import COLUMNS, label
from freehold.report_labels import lines as report_lines
from freehold.tree import reading_paths

__all__ = [
    "Terminal",
    "attempt_lines",
    "conversation",
    "conversation_lines",
    "generation_line",
    "import_report",
    "json_text",
    "reparse_items",
    "reparse_report",
    "search_hits",
    "stats_table",
    "visible",
    "when",
]

_ROLE_STYLE = {"user": "bold cyan", "assistant": "bold green", "system": "dim", "tool": "yellow"}

# C0 controls but newline and tab (CR too: it lets a line overwrite itself), DEL, C1 controls,
# and the bidi embeddings, overrides and isolates ("Trojan Source"). A CRLF is a line end.
_CONTROL_CHAR = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_CONTROL = re.compile(r"\r\n|" + _CONTROL_CHAR)
_IN_JSON = re.compile(_CONTROL_CHAR)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r\n":
        return "\n"
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def visible(text: str) -> str:
    """``text`` with every character a terminal would obey shown as its escape (``\\x1b``)."""
    return _CONTROL.sub(_escape, text)


def json_text(dumped: str) -> str:
    """JSON text with the same characters as ``\\uXXXX`` escapes: the same value, but safe to
    print (orjson escapes C0 controls only; these can only stand inside JSON strings)."""
    return _IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", dumped)


_AS_IS = {"markup": False, "emoji": False, "highlight": False}


class Terminal(Console):
    """A rich console that prints every string as it is, through ``visible``.

    A plain string is made visible before rich lays it out (``render_str``: rich strips BEL,
    backspace and CR from text without a word); every segment of text is checked again on its
    way out, whatever made it. Rich's own control segments (a live progress bar's cursor moves)
    pass as they are, and styles become escape codes after this, so neither is touched.

    What freehold prints is mostly data: file names, titles, model names, problems. So a string
    is never read as rich markup (``[bold]``) or emoji codes (``:fire:``; the model ``x:m``
    followed by ``:`` printed ``xⓂ``), nor highlighted (numbers, quotes, URLs coloured),
    whatever a caller asks: styles come only from ``style=`` and ``Text``.
    """

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **{**options, **_AS_IS})

    def render_str(self, text: str, *args: Any, **options: Any) -> Text:
        return super().render_str(visible(text), *args, **{**options, **_AS_IS})

    def on_broken_pipe(self) -> None:
        """The reader of the output went (``| head``): raised as the pipe's error, which the
        command line ends quietly, as it does for any write (``cli/_base.py``); rich's own
        way exits 1, as if something had failed."""
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterator[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not _CONTROL.search(segment.text):
                yield segment
            else:
                yield Segment(visible(segment.text), segment.style)


def _text(value: object, style: str = "") -> Text:
    return Text(visible(str(value)), style)


def when(epoch: float | None) -> str:
    """A time as ``show`` and ``search`` print it, labelled with its zone as the exports do."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def conversation(conv: Conversation, *, all_branches: bool = False) -> list[RenderableType]:
    """The visible path, then (with ``all_branches``) every other branch in full. A message's
    earlier versions (``Message.revision_of``) are no branch: each follows its message,
    labelled, in full with ``all_branches``, else named in one line."""
    paths, revisions = reading_paths(conv.messages)
    out: list[RenderableType] = [_header(conv, len(paths) - 1)]
    out += [_context(record) for record in conv.own_context()]
    forks = _fork_counts([message for path in paths for message in path])
    if all_branches and len(paths) > 1:
        out.append(Rule(_text(f"Branch 1 of {len(paths)} — the visible one")))
    for message in paths[0] if paths else []:
        if _shown(message):
            out.append(_message(message))
        out += _revisions(revisions.get(message.source_id, []), all_branches)
        if forks.get(message.source_id, 0) > 1 and not all_branches:
            out.append(Text(f"  ⑂ {forks[message.source_id]} branches here", style="magenta"))
    if all_branches:
        by_id: dict[str | None, Message] = {message.source_id: message for message in conv.messages}
        for number, segment in enumerate(paths[1:], start=2):
            out.append(_branch_rule(number, len(paths), by_id.get(segment[0].parent_source_id)))
            for message in segment:
                if _shown(message):
                    out.append(_message(message))
                out += _revisions(revisions.get(message.source_id, []), all_branches)
    elif len(paths) > 1:
        others = plural(len(paths) - 1, "other branch", "other branches")
        them = "it" if len(paths) == 2 else "them"
        out.append(Text(f"{others}: --all-branches shows {them}", "dim"))
    return out


def _revisions(revisions: list[Message], in_full: bool) -> list[RenderableType]:
    """A message's earlier versions, each under ``REVISION_LABEL`` (``_message``), or a line
    naming how many there are."""
    if in_full or not revisions:
        return [_message(revision) for revision in revisions]
    kept = plural(len(revisions), "earlier version", "earlier versions")
    them = "it" if len(revisions) == 1 else "them"
    return [Text(f"  ↺ {kept} kept (changed upstream): --all-branches shows {them}", "dim")]


def _shown(message: Message) -> bool:
    """Whether ``show`` prints a message: not an empty turn (``Message.has_content``: ChatGPT's
    ``parts: [""]``), which ChatGPT and the exports leave out too. A hidden one is still named
    (a system message), and an unfinished one still says so."""
    if message.hidden or message.status != "complete" or message.generation is not None:
        return True
    return message.has_content()


def _branch_rule(number: int, total: int, fork: Message | None) -> Rule:
    """ "Branch 2 of 3 — from User: “first words…”": where the branch leaves the tree."""
    where = f"from {fork.label()}: “{_excerpt(fork)}”" if fork else "a separate start"
    return Rule(_text(f"Branch {number} of {total} — {where}"))


def _excerpt(message: Message, limit: int = 40) -> str:
    words = " ".join(message.text.split()) or message.kind()
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def _fork_counts(messages: list[Message]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        if message.parent_source_id:
            counts[message.parent_source_id] = counts.get(message.parent_source_id, 0) + 1
    return counts


def _header(conv: Conversation, other_branches: int) -> RenderableType:
    lines = Text()
    lines.append(visible(conv.title or "(untitled)"), style="bold")
    details = [f"id {conv.id}", f"{conv.source_kind} {conv.source_id}", when(conv.created_at)]
    if conv.model:
        details.append(conv.model)
    if other_branches:
        details.append(plural(other_branches + 1, "branch", "branches"))
    if conv.gone_upstream_at:
        details.append(f"gone upstream {conv.gone_upstream_at}")
    lines.append("\n" + visible(" · ".join(details)), style="dim")
    return Panel(lines)


def _context(record: ContextRecord) -> RenderableType:
    """The conversation's own system prompt, boxed and labelled above the thread."""
    title = _text(context_label(record.kind), "bold")
    return Panel(_text(record.text.strip()), title=title, title_align="left", border_style="dim")


def _message(message: Message) -> RenderableType:
    label = f"{message.label(with_model=True)} · {when(message.created_at)}"
    if message.revision_of is not None:
        label = f"{REVISION_LABEL} · {label}"
    if message.status != "complete":
        label += f" · {message.status}"
    title = _text(label, _ROLE_STYLE.get(message.turn_role, "bold"))
    if message.hidden:
        preview = message.text.strip().replace("\n", " ")[:100]
        kind = _text(f"  ▸ {message.kind()} (hidden) · ", "dim")
        return Text.assemble(kind, title, _text(f"  {preview}", "dim"))
    body: list[RenderableType] = [title]
    shown, _ = message.layout()
    for part, ref in shown:
        if ref is None:  # files are listed below, with the message's other attachments
            body.extend(_part(part, markdown=message.role == "assistant"))
    body.extend(_sources(message.sources()))
    body.extend(
        _text(f"  📎 {ref.name or ref.pointer}" + ("" if ref.sha256 else " (missing)"), "blue")
        for ref in message.attachments
    )
    if message.generation is not None:
        body.append(_text(generation_line(message.generation), "dim"))
        body.extend(_text(line, "dim") for line in attempt_lines(message.generation.attempts))
        body.extend(_text(f"  ⚠ {w}", "yellow") for w in message.generation.warnings)
    return Group(*body, Text(""))


def _sources(sources: dict[str, str]) -> list[RenderableType]:
    """A message's citations (``Message.sources``) listed apart, as the exports list them:
    "Sources:", then one line each, ``url — title`` (the URL alone when it has no title)."""
    if not sources:
        return []
    lines = (url if title == url else f"{url} — {title}" for url, title in sources.items())
    return [_text("Sources:", "dim"), *(_text(f"  {line}", "blue") for line in lines)]


def _part(part: Part, *, markdown: bool) -> list[RenderableType]:
    """One part of a message as the exports show it (``layout``'s order, never the search
    text): words (Markdown in an answer), a tool call's input as code, an output as a tool
    result, custom instructions under their labels, and every other part under the label the
    exports give it (``part_label``: reasoning is never printed as if it were the answer)."""
    kind, text = part.get("type"), str(part.get("text") or "")
    label = part_label(part)
    if kind == "unknown":
        return [_text(f"({label}, kept raw)", "dim")]
    if kind in SHOWN_TEXT:
        words = without_citation_marks(text).strip()
        if kind == "transcript" and words:
            words = f"({label}) {words}"
        return [_words(words, markdown=markdown)] if words else []
    if kind == "code":
        return [_code(text, part.get("language"))] if text.strip() else []
    if kind == "execution_output":
        return [_text(f"{label}:", "dim"), _code(text, None)] if text.strip() else []
    if kind == "context":
        fields = ((label, part.get(key)) for key, label in CONTEXT_FIELDS)
        return [_text(f"{label}: {value}") for label, value in fields if value]
    if kind == "error":
        return [_text(f"{label} ({part.get('name') or 'unnamed'}): {text}", "red")]
    if kind == "web":
        return _web(part, label)
    shown = text.strip()  # reasoning, or a part of a kind no renderer names
    if not shown:
        return []
    return [_text(label, "italic dim"), _text(shown, "dim")] if label else [_text(shown, "dim")]


def _web(part: Part, label: str) -> list[RenderableType]:
    """A web result as the exports show it: its title (else its URL) and domain, the URL, the
    words it quotes."""
    url, title = str(part.get("url") or ""), str(part.get("title") or "")
    head = f"{label}: {title or url}" if title or url else label
    if part.get("domain"):
        head += f" · {part['domain']}"
    lines: list[RenderableType] = [_text(head, "italic dim")]
    if url and title:
        lines.append(_text(f"  {url}", "blue"))
    words = str(part.get("text") or "").strip()
    return lines + ([_text(words, "dim")] if words else [])


def _words(text: str, *, markdown: bool) -> RenderableType:
    if not markdown:
        return _text(text)
    # Imported here: markdown-it and rich's Markdown are a sixth of the CLI's start-up, and only
    # ``show`` needs them.
    from rich.markdown import Markdown

    return Markdown(visible(text))


def _code(text: str, language: object) -> RenderableType:
    """Code as written (indentation, underscores), highlighted when its language is known."""
    from rich.syntax import Syntax

    lexer = language if isinstance(language, str) and language != "unknown" else "text"
    return Syntax(visible(text.rstrip("\n")), lexer, theme="ansi_dark", word_wrap=True)


def generation_line(generation: Generation) -> str:
    """ "  via local:qwen2.5:7b (served qwen2.5:7b-q4) · 900 → 12 tokens · route default":
    who answered an answer written here, what was asked, what it cost in tokens."""
    if generation.provider is None:
        head = "  no answer"
    else:
        head = f"  via {generation.provider}:{generation.requested_model}"
        if generation.served_model and generation.served_model != generation.requested_model:
            head += f" (served {generation.served_model})"
    details = [head]
    if generation.tokens_in is not None or generation.tokens_out is not None:
        details.append(f"{generation.tokens_in or 0:,} → {generation.tokens_out or 0:,} tokens")
    if generation.target:
        details.append(f"asked for {generation.target}")
    return " · ".join(details)


def attempt_lines(attempts: list[Attempt]) -> list[str]:
    """One line per try when there was more than one or it did not go well; none otherwise."""
    if len(attempts) == 1 and attempts[0].outcome == "ok":
        return []
    lines = []
    for number, a in enumerate(attempts, start=1):
        line = f"  {number}. {a.provider}:{a.model} {a.outcome}"
        if a.fault:
            line += f" ({a.fault.replace('_', ' ')})"
        line += f" {a.ms:,} ms"
        if a.waited_ms:
            line += f" after {a.waited_ms:,} ms back-off"
        if a.error:
            line += f" — {a.error}"
        lines.append(line)
    return lines


def import_report(report: dict[str, Any]) -> Table:
    """The end-of-import table (the same numbers as ``--json``), worded as the web page's
    report is (``report_labels``)."""
    table = Table(title=_text(f"import {report['path']} ({report['kind']})"), show_header=True)
    table.add_column("what")
    for column in COLUMNS:
        table.add_column(label(column), justify="right")
    for key in ("conversations", "messages"):
        row = report[key]
        table.add_row(label(key), *(str(row.get(c, "")) for c in COLUMNS))
    # Links (a message pointing at a file) and files (bytes, stored once however many link
    # to them) are counted apart: one row mixing them read as if 24 of 4,422 were new.
    att = report["attachments"]
    table.add_row(label("referenced"), str(att["referenced"]), "", "", "", "")
    table.add_row(label("stored"), "", str(att["stored"]), "", "", "")
    table.caption = _text(_caption(report))
    return table


def _caption(report: dict[str, Any]) -> str:
    """What the table does not hold, one line each, from the lines the web page shows."""
    parts = [_links(report)]
    for line in report_lines(report)[3:]:  # after conversations, messages, attachments
        said = ", ".join(f"{name} {value}" for name, value in line.counts)
        parts.append(f"{line.label}: {said or line.value}")
    reread = report["conversations"].get("reread")
    if reread:
        parts.append(f"{label('reread')}: {reread} ({_stored_by(report)})")
    return "\n".join(parts)


def _links(report: dict[str, Any]) -> str:
    """``attachment links: 10 with their file, 15 missing their file``."""
    att = report["attachments"]
    return (
        f"{label('referenced')}: {att['found']} {label('found')}, "
        f"{att['missing']} {label('missing')}"
    )


def _stored_by(report: dict[str, Any]) -> str:
    """What had stored the conversations an import re-read: an older version of their
    importer, or none recorded (stored before versions were kept, m011, or brought by a
    freehold export), each counted."""
    counts = report["conversations"]
    unversioned = counts.get("reread_unversioned", 0)
    older = counts["reread"] - unversioned
    said = [f"{older} stored by an older importer version"] if older else []
    if unversioned:
        said.append(
            f"{unversioned} stored with no importer version: before versions were kept, "
            "or from a freehold export"
        )
    return ", ".join(said)


def reparse_report(report: dict[str, Any]) -> Table:
    """The end of ``freehold reparse`` (the same numbers as ``--json``), as the import's
    table: conversations read, converted again, updated, unchanged, skipped, and each source
    kind's when there are several; the messages the conversions held."""
    kinds = report["sources"]
    title = f"reparse ({', '.join(kinds)}"
    title += "; dry run: nothing was changed)" if report["dry_run"] else ")"
    table = Table(title=_text(title), show_header=True)
    table.add_column("what")
    columns = ("read", "converted", "new", "updated", "unchanged", "skipped")
    for column in columns:
        table.add_column(column.replace("converted", "converted again"), justify="right")
    table.add_row("conversations", *_cells(report["conversations"], columns))
    for kind, counts in kinds.items() if len(kinds) > 1 else ():
        table.add_row(_text(f"  {kind}"), *_cells(counts, columns))
    table.add_row("messages", *_cells(report["messages"], columns))
    table.caption = _text(_links(report))
    return table


def _cells(counts: dict[str, int], columns: tuple[str, ...]) -> list[str]:
    """A row's numbers under ``columns``, blank where it has none."""
    return [str(counts[column]) if column in counts else "" for column in columns]


def reparse_items(report: dict[str, Any], limit: int = 50) -> list[Text]:
    """The conversations a reparse changed (or would), one line each, the first ``limit``."""
    changed = [item for item in report["items"] if item["status"] == "updated"]
    verb = "would change" if report["dry_run"] else "changed"
    lines = []
    for item in changed[:limit]:
        versions = f"{item['parser_version'] or 'unknown'} → {item['converted_by']}"
        line = f"{verb}: {item['id']} {item['source_kind']} ({versions}) "
        lines.append(Text.assemble(line, _text(item["title"] or "(untitled)", "bold")))
    if len(changed) > limit:
        lines.append(Text(f"… {len(changed) - limit} more: use --json for the full list"))
    return lines


def stats_table(stats: dict[str, Any]) -> Table:
    where = stats.get("archive")  # the database's path, in the title: a whole line for it
    title = Text(f"freehold archive {where}" if where else "freehold archive", overflow="fold")
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in stats.items():
        if key not in ("archive", "per_source"):
            table.add_row(key.replace("_", " "), f"{value:,}")
    for kind, counts in stats["per_source"].items():
        table.add_row(
            _text(f"{kind}: conversations / messages"),
            f"{counts['conversations']:,} / {counts['messages']:,}",
        )
    return table


def search_hits(hits: list[Any], *, scores: bool = False) -> list[RenderableType]:
    """Each hit: its title and where it is, then its snippet; ``scores``: the score too (a
    search by meaning's cosine, which says how near a hit is)."""
    out: list[RenderableType] = []
    for hit in hits:
        where = f"  {hit.conversation_id} · {hit.role} · {when(hit.created_at)}"
        if scores:
            where += f" · score {hit.score:.2f}"
        head = Text.assemble(
            _text(hit.title or "(untitled)", "bold"), _text(f"{where} · {hit.source_kind}", "dim")
        )
        snippet = _snippet(hit.snippet.replace("\n", " "), hit.highlights)
        if hit.found_in == FILE_NAME:  # the words are in the names of its files
            snippet = Text.assemble(_text("attached file: ", "dim"), snippet)
            if hit.text_snippet:  # and some in its text
                text = _snippet(hit.text_snippet.replace("\n", " "), hit.text_highlights)
                snippet = Text.assemble(text, "\n", snippet)
        out.extend([head, snippet, Text("")])
    return out


def conversation_lines(rows: list[Any]) -> list[str]:
    """``freehold conversations``: one line each, in columns — the id, the day it was last
    updated (else made), the source, the messages and the title on one line."""
    kind_width = max((len(row.source_kind) for row in rows), default=0)
    count_width = max((len(f"{row.message_count:,}") for row in rows), default=0)
    return [
        f"{row.id}  {_day(row.updated_at or row.created_at)}  {row.source_kind:<{kind_width}}  "
        f"{row.message_count:>{count_width},} {'message' if row.message_count == 1 else 'messages'}"
        f"  {' '.join((row.title or '(untitled)').split())}"
        for row in rows
    ]


def _day(epoch: float | None) -> str:
    return "—" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def _snippet(flat: str, highlights: list[tuple[int, int]]) -> Text:
    """The snippet with its matched words marked: each piece made visible on its own, since an
    escape is longer than the character it shows and the offsets count characters."""
    snippet, done = Text(), 0
    for start, end in highlights:
        snippet.append(visible(flat[done:start]))
        snippet.append(visible(flat[start:end]), "bold reverse")
        done = end
    snippet.append(visible(flat[done:]))
    return snippet
