"""OpenAI fine-tuning JSONL: one ``{"messages": [...]}`` line per conversation path.

Layout of the output folder::

    conversations.jsonl   one chat per line, {"messages": [{"role", "content"}, ...]}

This is the chat shape OpenAI's fine-tuning accepts, and Together, Mistral and NeMo with it. A
line is the visible path of a conversation, root to current leaf; with ``all_branches=True``
(the default) every other branch from ``tree.branch_paths`` adds one more line, running from the
root through the fork down to that branch's leaf, so a regenerated answer becomes its own example.

What a line keeps, and why:

- user, assistant and system messages that the interface showed (``hidden`` is false) and that
  have text; ``content`` is the message's plain text (attachments are not sent — the format takes
  no files).
- Custom instructions: the model answered with them in force, so when the conversation carries a
  ``custom_instructions`` context record (the newest one) its text is prepended as one system
  message, unless the line already starts with a system message.
- Dropped: tool calls and tool results (their ids and schemas are not in the archive in the
  shape the format needs, ``tool_calls``/``tool_call_id``), reasoning, hidden system prompts,
  memory notes, and messages without text.

A branch none of whose own messages is kept is skipped (its line would repeat a prefix of
another), as is a path with no user or no assistant message left, or a line equal to one already
written for the conversation (a regeneration that repeated its answer word for word, which would
only weigh double in training); a conversation
with no line left is skipped entirely. ``write`` returns the number of conversations written, so
``selected - returned`` is the number skipped; ``progress`` counts conversations processed,
skipped ones included, so a progress bar still reaches its total.

Lines are streamed one conversation at a time into a temporary file that replaces the previous
one at the end. A folder may be exported into again when it holds nothing but this export's
file; any other non-empty folder is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from freehold.archive import Archive
from freehold.exporters import _folder
from freehold.models import Conversation, Message
from freehold.tree import branch_paths

__all__ = ["CONVERSATIONS", "FORMAT", "ROLES", "chat_lines", "write"]

FORMAT = "jsonl"
CONVERSATIONS = "conversations.jsonl"
ROLES = ("system", "user", "assistant")
_OWN = {CONVERSATIONS, CONVERSATIONS + ".tmp"}
_SIGNATURE = b'{"messages":['

Chat = list[dict[str, Any]]


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``conversations.jsonl``; returns how many conversations gave at least one line.

    ``progress`` is called after each conversation with the number processed so far.
    """
    _folder.prepare_fixed(out, label="JSONL", own=_OWN, ours=lambda: _is_ours(out / CONVERSATIONS))
    tmp = out / (CONVERSATIONS + ".tmp")
    tmp.unlink(missing_ok=True)  # never write through a link planted in the folder
    written = 0
    with tmp.open("wb") as handle:
        for seen, conv in enumerate(conversations, start=1):
            written += _write_conversation(handle, conv, all_branches)
            if progress is not None:
                progress(seen)
    os.replace(tmp, out / CONVERSATIONS)
    return written


def _write_conversation(handle: IO[bytes], conv: Conversation, all_branches: bool) -> int:
    chats = chat_lines(conv, all_branches=all_branches)
    for chat in chats:
        handle.write(orjson.dumps({"messages": chat}) + b"\n")
    return 1 if chats else 0


def _is_ours(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(len(_SIGNATURE))
    return head in (b"", _SIGNATURE)


def chat_lines(conv: Conversation, *, all_branches: bool = True) -> list[Chat]:
    """The ``messages`` lists of one conversation: visible path first, then other branches."""
    by_id = {m.source_id: m for m in conv.messages}
    paths = branch_paths(conv.messages)
    if not all_branches:
        paths = paths[:1] if paths and paths[0][0].on_visible_path else []
    instructions = _instructions(conv)
    # A branch whose own messages are all dropped would only repeat a prefix of another line.
    kept = [segment for segment in paths if any(_kept(m) for m in segment)]
    chats = [_chat(_from_root(segment, by_id), instructions) for segment in kept]
    unique: list[Chat] = []
    for chat in chats:
        if chat and chat not in unique:  # a regeneration can repeat an answer word for word
            unique.append(chat)
    return unique


def _from_root(segment: list[Message], by_id: dict[str, Message]) -> list[Message]:
    """``segment`` preceded by its ancestors, root first (the tree is acyclic once stored)."""
    ancestors: list[Message] = []
    parent = by_id.get(segment[0].parent_source_id or "")
    while parent is not None and len(ancestors) < len(by_id):
        ancestors.append(parent)
        parent = by_id.get(parent.parent_source_id or "")
    return ancestors[::-1] + segment


def _chat(path: list[Message], instructions: str) -> Chat:
    chat = [{"role": m.role, "content": m.text} for m in path if _kept(m)]
    roles = {entry["role"] for entry in chat}
    if "user" not in roles or "assistant" not in roles:
        return []
    if instructions and chat[0]["role"] != "system":
        chat.insert(0, {"role": "system", "content": instructions})
    return chat


def _kept(message: Message) -> bool:
    return message.role in ROLES and not message.hidden and bool(message.text.strip())


def _instructions(conv: Conversation) -> str:
    texts = [r.text for r in conv.context if r.kind == "custom_instructions" and r.text.strip()]
    return texts[-1] if texts else ""
