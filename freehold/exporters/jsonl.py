"""OpenAI fine-tuning JSONL: one ``{"messages": [...]}`` line per conversation path.

Layout of the output folder::

    conversations.jsonl   one chat per line, {"messages": [{"role", "content"}, ...]}

This is the chat shape OpenAI's fine-tuning accepts, and Together, Mistral and NeMo with it. A
line is the visible path of a conversation, root to current leaf; with ``all_branches=True``
(the default) every other branch from ``tree.branch_paths`` adds one more line, running from the
root through the fork down to that branch's leaf, so a regenerated answer becomes its own example.

What a line keeps, and why:

- user and assistant messages that the interface showed (``hidden`` is false) and that have
  text of their own; ``content`` is that text, ``Message.shown_text`` (the text parts as the
  Markdown export shows them). A message holding only tool output (``Message.turn_role`` is
  ``tool``: Claude's tool results sent as a human turn) is a tool message, not a user turn.
- The system prompt the line's branch ran under (``instructions.system_prompt``, what
  ``freehold chat`` sends when it carries the conversation on: the source's system messages,
  hidden or not, custom instructions, a project's or a chat's own instructions), as one leading
  system message: the model answered with it in force. A system message written here
  (``chat --system``/``--profile``) stays where it was said, as a system message of its own.
- Dropped: tool calls and tool results (their ids and schemas are not in the archive in the
  shape the format needs, ``tool_calls``/``tool_call_id``), reasoning, memory notes, files
  (the format takes none), and messages without text. A kept message's parts that are not its
  text are counted too (``tool_parts``, ``reasoning_parts``, ``file_parts``, ``other_parts``),
  so ``not_included`` names everything a line does not carry.

Every assistant message of a line is a training target, so a broken answer — ``status``
incomplete, interrupted, failed or error (``BROKEN``: a cut stream, a stop, an error) — must not
be one: the line is cut just before it, and the turns after it go with it. We cut rather than
give it OpenAI's ``"weight": 0``: the key is OpenAI's alone among the services that read this
shape, and what follows a broken answer was said to a model that never finished. A line then
ends with its last assistant message (a trailing user turn has nothing to learn from).

A branch none of whose own messages is kept is skipped (its line would repeat a prefix of
another), as is a path with no user or no assistant message left, or a line equal to one already
written for the conversation (a regeneration that repeated its answer word for word, which would
only weigh double in training); a conversation with no line left is skipped entirely.
``write_summary`` says what was written and what was left out — skipped conversations by reason
with their ids, broken answers cut, and the messages not included by kind (one whose content
the system message carries is included) — for the command to
print; ``write`` returns only the number of conversations written. ``progress`` counts
conversations processed, skipped ones included, so a progress bar still reaches its total.

Lines are streamed one conversation at a time into a temporary file that replaces the previous
one at the end. A folder may be exported into again when it holds nothing but this export's
file; any other non-empty folder is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from freehold import storage
from freehold._words import plural
from freehold.archive import Archive
from freehold.exporters import _folder
from freehold.instructions import instructs, system_prompt
from freehold.models import SHOWN_TEXT, Conversation, Message, Part
from freehold.tree import branch_paths

__all__ = [
    "BROKEN",
    "CONVERSATIONS",
    "FORMAT",
    "ROLES",
    "Summary",
    "chat_lines",
    "write",
    "write_summary",
]

FORMAT = "jsonl"
CONVERSATIONS = "conversations.jsonl"
ROLES = ("system", "user", "assistant")
# Message.status values of an answer that did not finish (freehold chat, ChatGPT, LibreChat,
# Open WebUI and AI Studio all map theirs onto these).
BROKEN = frozenset({"incomplete", "interrupted", "failed", "error"})
_OWN = {CONVERSATIONS, CONVERSATIONS + ".tmp"}
_SIGNATURE = b'{"messages":['
# Why a conversation gave no line, as --json names it and as the summary words it.
_REASONS = {
    "no_answer": "without a user prompt and an assistant answer",
    "only_broken_answers": "with only incomplete answers",
}
_KINDS = {
    "tool": ("tool message", "tool messages"),
    "reasoning": ("reasoning block", "reasoning blocks"),
    "hidden": ("hidden message", "hidden messages"),
    "no_text": ("message without text", "messages without text"),
    "other_role": ("message of another role", "messages of another role"),
    "tool_parts": (
        "tool call or result in a kept message",
        "tool calls or results in kept messages",
    ),
    "reasoning_parts": ("reasoning part in a kept message", "reasoning parts in kept messages"),
    "file_parts": ("file in a kept message", "files in kept messages"),
    "other_parts": ("other part in a kept message", "other parts in kept messages"),
}
# Which count a part of a kept message that is not its text goes to (citations are the text's
# own; custom instructions are the system message's).
_PART_KINDS = {
    "code": "tool_parts",
    "execution_output": "tool_parts",
    "web": "tool_parts",
    "thought": "reasoning_parts",
    "image": "file_parts",
    "audio": "file_parts",
    "file": "file_parts",
}
_CARRIED = (*SHOWN_TEXT, "citation", "context")

Chat = list[dict[str, Any]]


@dataclass(slots=True)
class Summary:
    """What one export wrote and what it left out.

    ``left_out``: reason -> ids of the conversations that gave no line; ``cut``: broken answers
    lines were cut before (each counted once); ``not_included``: the messages on the paths read
    of written conversations that this format does not carry, by kind (``_KINDS``).
    """

    written: int = 0
    lines: int = 0
    left_out: dict[str, list[str]] = field(default_factory=dict)
    cut: int = 0
    not_included: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "lines": self.lines,
            "left_out": {reason: len(ids) for reason, ids in self.left_out.items()},
            "left_out_ids": self.left_out,
            "incomplete_answers_cut": self.cut,
            "not_included": dict(self.not_included),
        }

    def text(self, out: Path, shown: int = 5) -> str:
        """One paragraph: "wrote 66 conversations (80 lines) to out; left out 3: 2 without …",
        naming the first ``shown`` conversations left out for each reason."""
        said = [
            f"wrote {plural(self.written, 'conversation')} ({plural(self.lines, 'line')}) to {out}"
        ]
        skipped = sum(len(ids) for ids in self.left_out.values())
        if skipped:
            reasons = [
                f"{len(ids)} {_REASONS[reason]} ({_ids(ids, shown)})"
                for reason, ids in self.left_out.items()
            ]
            said.append(f"left out {skipped}: " + ", ".join(reasons))
        if self.cut:
            said.append(f"{plural(self.cut, 'incomplete answer')} cut, with the turns after them")
        if self.not_included:
            kinds = [
                plural(count, *_KINDS[kind])
                for kind, count in sorted(self.not_included.items(), key=lambda item: -item[1])
            ]
            said.append(", ".join(kinds) + " not included")
        return "; ".join(said)


def write(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``conversations.jsonl``; returns how many conversations gave at least one line."""
    return write_summary(
        archive, conversations, out, all_branches=all_branches, progress=progress
    ).written


def write_summary(
    archive: Archive,
    conversations: Iterable[Conversation],
    out: Path,
    *,
    all_branches: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write ``conversations.jsonl``; returns what was written and what was left out.

    ``progress`` is called after each conversation with the number processed so far.
    """
    _folder.prepare_fixed(out, label="JSONL", own=_OWN, ours=lambda: _is_ours(out / CONVERSATIONS))
    summary = Summary()
    with storage.written(out / CONVERSATIONS) as handle:
        for seen, conv in enumerate(conversations, start=1):
            _write_conversation(handle, conv, all_branches, summary)
            if progress is not None:
                progress(seen)
    return summary


def _write_conversation(
    handle: IO[bytes], conv: Conversation, all_branches: bool, summary: Summary
) -> None:
    chats, cut, read = _lines(conv, all_branches)
    summary.cut += len(cut)
    if not chats:
        reason = "only_broken_answers" if cut else "no_answer"
        summary.left_out.setdefault(reason, []).append(conv.id or conv.source_id)
        return
    for chat in chats:
        handle.write(orjson.dumps({"messages": chat}) + b"\n")
    summary.written += 1
    summary.lines += len(chats)
    left = [m for m in read if not _kept(m) and not _broken(m) and not instructs(m)]
    summary.not_included.update(_kind(m) for m in left)
    summary.not_included.update(_part_kind(p) for m in read if _kept(m) for p in _unsaid(m))


def _ids(ids: list[str], shown: int) -> str:
    more = f", … {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _is_ours(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(len(_SIGNATURE))
    return head in (b"", _SIGNATURE)


def chat_lines(conv: Conversation, *, all_branches: bool = True) -> list[Chat]:
    """The ``messages`` lists of one conversation: visible path first, then other branches."""
    return _lines(conv, all_branches)[0]


def _lines(conv: Conversation, all_branches: bool) -> tuple[list[Chat], set[str], list[Message]]:
    """The lines, the source ids of the broken answers they were cut before, and the messages
    of the paths read (the visible one alone without ``all_branches``), each once."""
    by_id = {m.source_id: m for m in conv.messages}
    paths = branch_paths(conv.messages)
    if not all_branches:
        paths = paths[:1] if paths and paths[0][0].on_visible_path else []
    unique: list[Chat] = []
    cut: set[str] = set()
    read = [m for segment in paths for m in segment]  # the segments partition the paths read
    for segment in paths:
        ancestors = _ancestors(segment, by_id)
        branch = ancestors + segment
        path, broken = _example(branch, own_from=len(ancestors))
        if broken is not None:
            cut.add(broken.source_id)
        # what the kept answers were given: the branch down to the cut
        upto = next((i for i, m in enumerate(branch) if m is broken), len(branch))
        chat = _chat(path, system_prompt(conv, branch[:upto]))
        if chat and chat not in unique:  # a regeneration can repeat an answer word for word
            unique.append(chat)
    return unique, cut, read


def _ancestors(segment: list[Message], by_id: dict[str, Message]) -> list[Message]:
    """The messages above ``segment``, root first (the tree is acyclic once stored)."""
    ancestors: list[Message] = []
    parent = by_id.get(segment[0].parent_source_id or "")
    while parent is not None and len(ancestors) < len(by_id):
        ancestors.append(parent)
        parent = by_id.get(parent.parent_source_id or "")
    return ancestors[::-1]


def _example(path: list[Message], own_from: int) -> tuple[list[Message], Message | None]:
    """The kept messages of ``path`` up to its first broken answer (returned too), ending with
    an assistant message; empty when none of the branch's own messages (from ``own_from``) is
    left, since the line would only repeat a prefix of another."""
    broken = next((i for i, m in enumerate(path) if _broken(m)), len(path))
    kept = [(i, m) for i, m in enumerate(path[:broken]) if _kept(m)]
    while kept and kept[-1][1].role != "assistant":
        kept.pop()
    found = path[broken] if broken < len(path) else None
    if not any(i >= own_from for i, _ in kept):
        return [], found
    return [m for _, m in kept], found


def _chat(path: list[Message], system: str) -> Chat:
    # the source's own system messages are in ``system``; one written here stays in place
    chat = [
        {"role": m.role, "content": m.shown_text()} for m in path if m.role != "system" or m.origin
    ]
    roles = {entry["role"] for entry in chat}
    if "user" not in roles or "assistant" not in roles:
        return []
    return [{"role": "system", "content": system}, *chat] if system else chat


def _kept(message: Message) -> bool:
    if message.turn_role not in ROLES or message.hidden:
        return False
    return bool(message.shown_text().strip())


def _unsaid(message: Message) -> list[Part]:
    """The parts of a kept message its line does not carry."""
    return [part for part in message.parts if part.get("type") not in _CARRIED]


def _part_kind(part: Part) -> str:
    return _PART_KINDS.get(str(part.get("type")), "other_parts")


def _broken(message: Message) -> bool:
    """An answer shown to the user that did not finish: never a training target."""
    return message.role == "assistant" and not message.hidden and message.status in BROKEN


def _kind(message: Message) -> str:
    """Which of ``_KINDS`` a message no line carries is."""
    kind = message.kind()
    if message.turn_role == "tool" or kind in ("Tool call", "Tool output", "Web results"):
        return "tool"
    if kind in ("Reasoning", "Reasoning summary"):
        return "reasoning"
    if message.hidden:
        return "hidden"
    return "no_text" if message.role in ROLES else "other_role"
