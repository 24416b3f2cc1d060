"""Terminal rendering with rich: conversations, import reports, statistics, search hits.

Everything printed comes from untrusted text (titles, messages), so text is always passed to
rich as ``Text`` (never parsed as console markup).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from freehold.models import Conversation, Message
from freehold.tree import branch_paths

__all__ = ["conversation", "import_report", "search_hits", "stats_table", "when"]

_ROLE_STYLE = {"user": "bold cyan", "assistant": "bold green", "system": "dim", "tool": "yellow"}


def when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def conversation(conv: Conversation, *, all_branches: bool = False) -> list[RenderableType]:
    """The visible path, then (with ``all_branches``) every other branch in full."""
    paths = branch_paths(conv.messages)
    out: list[RenderableType] = [_header(conv, conv.branch_count - 1)]
    forks = _fork_counts(conv.messages)
    for message in paths[0] if paths else []:
        out.append(_message(message))
        if forks.get(message.source_id, 0) > 1 and not all_branches:
            out.append(Text(f"  ⑂ {forks[message.source_id]} branches here", style="magenta"))
    for number, segment in enumerate(paths[1:], start=2):
        if not all_branches:
            break
        out.append(Rule(f"branch {number} (forks after {segment[0].parent_source_id or 'root'})"))
        out.extend(_message(m) for m in segment)
    if not all_branches and len(paths) > 1:
        out.append(Text(f"{len(paths) - 1} other branch(es): --all-branches shows them", "dim"))
    return out


def _fork_counts(messages: list[Message]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        if message.parent_source_id:
            counts[message.parent_source_id] = counts.get(message.parent_source_id, 0) + 1
    return counts


def _header(conv: Conversation, other_branches: int) -> RenderableType:
    lines = Text()
    lines.append(conv.title or "(untitled)", style="bold")
    details = [f"id {conv.id}", f"{conv.source_kind} {conv.source_id}", when(conv.created_at)]
    if conv.model:
        details.append(conv.model)
    if other_branches:
        details.append(f"{other_branches + 1} branches")
    if conv.gone_upstream_at:
        details.append(f"gone upstream {conv.gone_upstream_at}")
    lines.append("\n" + " · ".join(details), style="dim")
    return Panel(lines)


def _message(message: Message) -> RenderableType:
    label = message.role + (f" ({message.author_name})" if message.author_name else "")
    if message.model:
        label += f" · {message.model}"
    label += f" · {when(message.created_at)}"
    if message.status != "complete":
        label += f" · {message.status}"
    title = Text(label, style=_ROLE_STYLE.get(message.role, "bold"))
    if message.hidden:
        preview = message.text.strip().replace("\n", " ")[:100]
        return Text.assemble(("  ▸ hidden ", "dim"), title, (f"  {preview}", "dim"))
    body: list[RenderableType] = [title]
    if message.role == "assistant":
        body.append(Markdown(message.text))
    else:
        body.append(Text(message.text))
    body.extend(
        Text(f"  📎 {ref.name or ref.pointer}" + ("" if ref.sha256 else " (missing)"), "blue")
        for ref in message.attachments
    )
    return Group(*body, Text(""))


def import_report(report: dict[str, Any]) -> Table:
    """The end-of-import table (the same numbers as ``--json``)."""
    table = Table(title=f"import {report['path']} ({report['kind']})", show_header=True)
    table.add_column("what")
    for column in ("read", "new", "updated", "unchanged", "skipped"):
        table.add_column(column, justify="right")
    for key in ("conversations", "messages"):
        row = report[key]
        table.add_row(
            key, *(str(row.get(c, "")) for c in ("read", "new", "updated", "unchanged", "skipped"))
        )
    att = report["attachments"]
    table.add_row("attachments", str(att["referenced"]), str(att["stored"]), "", "", "")
    table.caption = _caption(report)
    return table


def _caption(report: dict[str, Any]) -> str:
    att = report["attachments"]
    parts = [f"attachments found {att['found']}, missing {att['missing']}"]
    parts.append(f"context records {report['context_records']}")
    types = ", ".join(f"{k} {v}" for k, v in list(report["content_types"].items())[:12])
    parts.append(f"content types: {types}")
    if report["not_understood"]:
        odd = ", ".join(f"{k} {v}" for k, v in report["not_understood"].items())
        parts.append(f"not understood (kept raw): {odd}")
    if report["gone_upstream"]:
        parts.append(f"gone upstream: {report['gone_upstream']}")
    return "\n".join(parts)


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
            f"{kind}: conversations / messages",
            f"{counts['conversations']:,} / {counts['messages']:,}",
        )
    return table


def search_hits(hits: list[Any]) -> list[RenderableType]:
    out: list[RenderableType] = []
    for hit in hits:
        where = f"  {hit.conversation_id} · {hit.role} · {when(hit.created_at)}"
        head = Text.assemble(
            (hit.title or "(untitled)", "bold"), (f"{where} · {hit.source_kind}", "dim")
        )
        snippet = Text(hit.snippet.replace("\n", " "))
        for start, end in hit.highlights:
            snippet.stylize("bold reverse", start, end)
        out.extend([head, snippet, Text("")])
    return out
