"""Open WebUI export: one JSON array that Open WebUI's "Import Chats" reads, every branch kept.

Layout of the output folder::

    openwebui-import.json   [{id, user_id, title, chat: {title, models, history}, meta, ...}, ...]

An item is Open WebUI's documented chat export: ``chat.history.messages`` maps each message id
to ``{id, parentId, childrenIds, role, content, timestamp}`` (assistant messages add ``model``
and ``done``) and ``chat.history.currentId`` names the leaf of the visible path, so regenerated
answers and edited prompts stay switchable branches after the import. Message ids are the
export's own message ids (Open WebUI gives new ones on import anyway); ``meta.tags`` holds the
source (``chatgpt``, ``claude``…), ``pinned`` is ``starred``; times are integer epoch seconds.

Open WebUI's tree holds only what its chat view shows: user and assistant messages. Folding, in
one rule: every message that is hidden, or whose role is neither user nor assistant (system
prompts, tool calls and results, custom instructions, memory notes), leaves the tree and its
children hang from its nearest kept ancestor. Reasoning alone survives the fold: ``thought``
parts — of the dropped messages since the last kept one, and of the assistant message itself —
are put in front of the next assistant message on the same path as Open WebUI writes them,
``<details type="reasoning" done="true">`` with the text quoted and HTML-escaped; reasoning
followed by a user message is dropped with it. Content is the message's plain text; attachments
are not carried (Open WebUI would need its own file ids). A conversation with no user or
assistant message left is skipped: ``write`` returns the number of items written and
``progress`` counts conversations processed.

The array is streamed: ``[``, one item per line separated by ``,``, ``]``, into a temporary file
that replaces the previous one at the end. A folder may be exported into again when it holds
nothing but this export's file; any other non-empty folder is refused.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from freehold.archive import Archive, conversation_id
from freehold.exporters import _folder
from freehold.models import Conversation, Message

__all__ = ["FILE", "FORMAT", "chat_item", "write"]

FORMAT = "openwebui"
FILE = "openwebui-import.json"
_OWN = {FILE, FILE + ".tmp"}
_HEADS = (b"[\n]", b'[\n{"id":')
_ROLES = ("user", "assistant")

Node = dict[str, Any]


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``openwebui-import.json``; returns how many conversations it holds.

    Every branch is always written (Open WebUI shows them as switchable versions), so
    ``all_branches`` is accepted for the common exporter signature and ignored. ``progress`` is
    called after each conversation with the number processed so far.
    """
    _folder.prepare_fixed(out, label="Open WebUI", own=_OWN, ours=lambda: _is_ours(out / FILE))
    tmp = out / (FILE + ".tmp")
    tmp.unlink(missing_ok=True)  # never write through a link planted in the folder
    written = 0
    with tmp.open("wb") as handle:
        handle.write(b"[")
        for seen, conv in enumerate(conversations, start=1):
            item = chat_item(conv)
            if item is not None:
                handle.write((b",\n" if written else b"\n") + orjson.dumps(item))
                written += 1
            if progress is not None:
                progress(seen)
        handle.write(b"\n]\n")
    os.replace(tmp, out / FILE)
    return written


def _is_ours(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(max(len(h) for h in _HEADS))
    return any(head.startswith(h) for h in _HEADS)


def chat_item(conv: Conversation) -> dict[str, Any] | None:
    """One Open WebUI chat, or None when no user or assistant message is left."""
    nodes, anchor = _Fold(conv).run()
    if not nodes:
        return None
    current = anchor.get(_visible_leaf(conv.messages) or "") or next(reversed(nodes))
    title = conv.title or "Untitled"
    history = {"currentId": current, "messages": nodes}
    return {
        "id": conv.id or conversation_id(conv.source_kind, conv.source_id),
        "user_id": conv.account_id or "",
        "title": title,
        "chat": {"title": title, "models": _models(conv, nodes), "history": history},
        "meta": {"tags": [conv.source_kind]},
        "pinned": conv.starred,
        "archived": conv.archived,
        "share_id": None,
        "folder_id": None,
        "created_at": _epoch(conv.created_at),
        "updated_at": _epoch(conv.updated_at if conv.updated_at is not None else conv.created_at),
    }


class _Fold:
    """Walk the tree root-down, keeping user/assistant messages and folding the rest away."""

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.nodes: dict[str, Node] = {}
        self.anchor: dict[str, str | None] = {}  # source id → the kept node standing for it

    def run(self) -> tuple[dict[str, Node], dict[str, str | None]]:
        messages = self.conv.messages
        known = {m.source_id for m in messages}
        children: dict[str | None, list[Message]] = {}
        for m in messages:
            parent = m.parent_source_id if m.parent_source_id in known else None
            children.setdefault(parent, []).append(m)
        # Each stack entry carries what its parent leaves it: the kept parent and pending reasoning.
        stack: list[tuple[Message, str | None, list[str]]] = [
            (m, None, []) for m in reversed(children.get(None, []))
        ]
        while stack:
            message, parent, pending = stack.pop()
            if message.source_id in self.anchor:
                continue  # a stored tree has no cycles; this only guards against a corrupt one
            kept, carried = self._visit(message, parent, pending)
            kids = children.get(message.source_id, [])
            stack.extend((kid, kept, carried) for kid in reversed(kids))
        return self.nodes, self.anchor

    def _visit(
        self, message: Message, parent: str | None, pending: list[str]
    ) -> tuple[str | None, list[str]]:
        reasoning = pending + _thoughts(message)
        if message.hidden or message.role not in _ROLES:
            self.anchor[message.source_id] = parent
            return parent, reasoning
        self.nodes[message.source_id] = self._node(message, parent, reasoning)
        if parent is not None:
            self.nodes[parent]["childrenIds"].append(message.source_id)
        self.anchor[message.source_id] = message.source_id
        return message.source_id, []

    def _node(self, message: Message, parent: str | None, reasoning: list[str]) -> Node:
        node: Node = {
            "id": message.source_id,
            "parentId": parent,
            "childrenIds": [],
            "role": message.role,
            "content": message.text,
            "timestamp": _epoch(message.created_at or self.conv.created_at),
        }
        if message.role == "assistant":
            node["content"] = "".join(reasoning) + message.text
            node["model"] = message.model or self.conv.model or ""
            node["done"] = True
        return node


def _thoughts(message: Message) -> list[str]:
    """Each ``thought`` part with text, as Open WebUI's reasoning block."""
    blocks = []
    for part in message.parts:
        text = part.get("text")
        if part.get("type") == "thought" and isinstance(text, str) and text.strip():
            summary = part.get("summary")
            blocks.append(_details(summary if isinstance(summary, str) else "Thought", text))
    return blocks


def _details(summary: str, text: str) -> str:
    quoted = "\n".join(line if line.startswith(">") else f"> {line}" for line in text.splitlines())
    summary = html.escape(" ".join(summary.split()) or "Thought")
    return (
        f'<details type="reasoning" done="true">\n<summary>{summary}</summary>\n'
        f"{html.escape(quoted)}\n</details>\n"
    )


def _visible_leaf(messages: list[Message]) -> str | None:
    visible = [m for m in messages if m.on_visible_path]
    parents = {m.parent_source_id for m in visible}
    leaves = [m.source_id for m in visible if m.source_id not in parents]
    return leaves[0] if leaves else None


def _models(conv: Conversation, nodes: dict[str, Node]) -> list[str]:
    found = [n["model"] for n in nodes.values() if n.get("model")]
    return list(dict.fromkeys(found)) or ([conv.model] if conv.model else [])


def _epoch(value: float | None) -> int:
    return int(value) if value is not None and math.isfinite(value) else 0
