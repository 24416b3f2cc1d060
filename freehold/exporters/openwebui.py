"""Open WebUI export: one JSON array that Open WebUI's "Import Chats" reads, every branch kept.

Layout of the output folder::

    openwebui-import.json   [{id, user_id, title, chat: {title, models, history}, meta, ...}, ...]

An item is Open WebUI's documented chat export: ``chat.history.messages`` maps each message id
to ``{id, parentId, childrenIds, role, content, timestamp}`` (assistant messages add ``model``
and ``done``) and ``chat.history.currentId`` names the leaf of the visible path, so regenerated
answers and edited prompts stay switchable branches after the import. Message ids are the
export's own message ids (Open WebUI gives new ones on import anyway); ``meta.tags`` holds the
source (``chatgpt``, ``claude``…), ``pinned`` is ``starred``; times are integer epoch seconds.
Siblings are listed in ``childrenIds`` in the archive's order (oldest first). The system
prompt the visible path ran under (``instructions.system_prompt``, what ``freehold chat`` sends
when it carries the conversation on: system messages, ChatGPT's custom instructions, Open
WebUI's own, LibreChat's ``promptPrefix``, a Claude project's instructions), then the person's
own ``chat --system``/``--profile`` texts on that path (``instructions.worn_prompt``, as carry
sends them), is ``chat.params.system``, where Open WebUI keeps a chat's system prompt and sends
it with every turn.

Content is written from a message's parts the way Open WebUI itself writes a message (its
``serialize_output``, read in the 0.12 source; 0.12 still draws these blocks from ``content``):

- text as Markdown, citation markers removed: the message's own words, the parts
  ``Message.shown_text`` joins (``SHOWN_TEXT``, the rule the JSONL and CSV exports follow);
- reasoning (``thought``) as ``<details type="reasoning" done="true" duration="7">`` with its
  summary and the text quoted and HTML-escaped (``duration`` only when the archive knows it);
- a tool call (``code``, with the ``execution_output`` after it as its result) as
  ``<details type="tool_calls" done="true" id name arguments result files embeds>``, the
  arguments and the result JSON-encoded and HTML-escaped, as Open WebUI encodes them;
- an error as the message's ``error: {content}``;
- an image whose bytes the archive holds, sniffed as PNG, JPEG, GIF or WebP, as an entry of the
  message's ``files``: ``{"type": "image", "url": "data:image/png;base64,…", "name"?}``, which
  Open WebUI shows above the message (other files are not carried: Open WebUI would need them
  uploaded to its own store).

Open WebUI's tree holds only what its chat view shows: user and assistant messages. Folding, in
one rule: every message that is hidden, or whose ``Message.turn_role`` is neither user nor
assistant (system prompts, tool calls and results, a human turn holding only tool results,
custom instructions, memory notes), leaves the tree and its
children hang from its nearest kept ancestor. What Open WebUI can show of such a message — its
reasoning, tool calls and results, images — moves to the front of the next assistant message on
the same path (a ChatGPT DALL·E image arrives with the answer that follows it); what is left
when a user message comes first is dropped with it. A conversation with no user or assistant
message left is skipped: ``write`` returns the number of items written and ``progress`` counts
conversations processed.

The array is streamed: ``[``, one item per line separated by ``,``, ``]``, into a temporary file
that replaces the previous one at the end. A folder may be exported into again when it holds
nothing but this export's file; any other non-empty folder is refused.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from freehold import storage
from freehold.archive import Archive, conversation_id
from freehold.exporters import _folder
from freehold.instructions import worn_prompt
from freehold.models import (
    SHOWN_TEXT,
    AttachmentRef,
    Conversation,
    Message,
    Part,
    without_citation_marks,
)
from freehold.safehtml import RASTER

__all__ = ["FILE", "FORMAT", "chat_item", "write"]

FORMAT = "openwebui"
FILE = "openwebui-import.json"
_OWN = {FILE, FILE + ".tmp"}
_HEADS = (b"[\n]", b'[\n{"id":')
_ROLES = ("user", "assistant")

Node = dict[str, Any]
ImageUrl = Callable[[AttachmentRef], str | None]


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
    images = _Images(archive)
    written = 0
    with storage.written(out / FILE) as handle:
        handle.write(b"[")
        for seen, conv in enumerate(conversations, start=1):
            item = chat_item(conv, images.url)
            if item is not None:
                handle.write((b",\n" if written else b"\n") + orjson.dumps(item))
                written += 1
            if progress is not None:
                progress(seen)
        handle.write(b"\n]\n")
    return written


def _is_ours(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(max(len(h) for h in _HEADS))
    return any(head.startswith(h) for h in _HEADS)


class _Images:
    """Data URLs of the archive's raster images, the last one kept (a conversation repeats it)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.last: tuple[str, str] | None = None

    def url(self, ref: AttachmentRef) -> str | None:
        mime, sha = ref.sniffed_mime, ref.sha256
        if mime not in RASTER or sha is None:
            return None  # only what a browser draws as an image, never SVG or HTML
        if self.last is None or self.last[0] != sha:
            path = self.archive.blob_path(sha)
            if not path.is_file():
                return None
            encoded = base64.b64encode(path.read_bytes()).decode("ascii")
            self.last = (sha, f"data:{mime};base64,{encoded}")
        return self.last[1]


def chat_item(conv: Conversation, image: ImageUrl | None = None) -> dict[str, Any] | None:
    """One Open WebUI chat, or None when no user or assistant message is left.

    ``image`` gives an attachment's data URL (None: not carried); without it no image is.
    """
    nodes, anchor = _Fold(conv, image or _no_image).run()
    if not nodes:
        return None
    current = anchor.get(_visible_leaf(conv.messages) or "") or next(reversed(nodes))
    title = conv.title or "Untitled"
    history = {"currentId": current, "messages": nodes}
    chat: dict[str, Any] = {"title": title, "models": _models(conv, nodes), "history": history}
    system = worn_prompt(conv, [m for m in conv.messages if m.on_visible_path])
    if system:
        chat["params"] = {"system": system}
    return {
        "id": conv.id or conversation_id(conv.source_kind, conv.source_id),
        "user_id": conv.account_id or "",
        "title": title,
        "chat": chat,
        "meta": {"tags": [conv.source_kind]},
        "pinned": conv.starred,
        "archived": conv.archived,
        "share_id": None,
        "folder_id": None,
        "created_at": _epoch(conv.created_at),
        "updated_at": _epoch(conv.updated_at if conv.updated_at is not None else conv.created_at),
    }


def _no_image(ref: AttachmentRef) -> str | None:
    return None


class _Fold:
    """Walk the tree root-down, keeping user/assistant messages and folding the rest away."""

    def __init__(self, conv: Conversation, image: ImageUrl) -> None:
        self.conv = conv
        self.image = image
        self.nodes: dict[str, Node] = {}
        self.anchor: dict[str, str | None] = {}  # source id → the kept node standing for it

    def run(self) -> tuple[dict[str, Node], dict[str, str | None]]:
        messages = self.conv.messages
        known = {m.source_id for m in messages}
        children: dict[str | None, list[Message]] = {}
        for m in messages:
            parent = m.parent_source_id if m.parent_source_id in known else None
            children.setdefault(parent, []).append(m)
        # Each stack entry carries what its parent leaves it: the kept parent and what a folded
        # message left for the next answer.
        stack: list[tuple[Message, str | None, _Content | None]] = [
            (m, None, None) for m in reversed(children.get(None, []))
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
        self, message: Message, parent: str | None, pending: _Content | None
    ) -> tuple[str | None, _Content | None]:
        if message.hidden or message.turn_role not in _ROLES:
            self.anchor[message.source_id] = parent
            carried = pending.copy() if pending else _Content(self.image)
            carried.add(message, folded=True)
            return parent, carried
        content = (
            pending.copy() if pending and message.role == "assistant" else _Content(self.image)
        )
        content.add(message, folded=False)
        self.nodes[message.source_id] = self._node(message, parent, content)
        if parent is not None:
            self.nodes[parent]["childrenIds"].append(message.source_id)
        self.anchor[message.source_id] = message.source_id
        return message.source_id, None

    def _node(self, message: Message, parent: str | None, content: _Content) -> Node:
        node: Node = {
            "id": message.source_id,
            "parentId": parent,
            "childrenIds": [],
            "role": message.role,
            "content": content.markdown(),
            "timestamp": _epoch(message.created_at or self.conv.created_at),
        }
        if content.files:
            node["files"] = content.files
        if content.error is not None:
            node["error"] = {"content": content.error}
        if message.role == "assistant":
            node["model"] = message.model or self.conv.model or ""
            node["done"] = True
        return node


class _Content:
    """A message's Open WebUI ``content`` blocks, ``files`` and ``error``, built part by part."""

    def __init__(self, image: ImageUrl) -> None:
        self.image = image
        self.blocks: list[tuple[bool, str]] = []  # (is a <details> block, its text)
        self.files: list[dict[str, str]] = []
        self.error: str | None = None
        self.call: tuple[Message, Part] | None = None  # a tool call waiting for its result

    def copy(self) -> _Content:
        twin = _Content(self.image)
        twin.blocks, twin.files, twin.call = list(self.blocks), list(self.files), self.call
        return twin

    def add(self, message: Message, *, folded: bool) -> None:
        """Every part of ``message``; of a folded one only what Open WebUI shows elsewhere."""
        shown, unused = message.layout()
        for part, ref in shown:
            if ref is not None:
                self._file(ref)
            else:
                self._part(message, part, folded)
        for ref in unused:
            self._file(ref)
        if not folded:
            self._close_call()

    def markdown(self) -> str:
        self._close_call()
        pieces = []
        for n, (details, text) in enumerate(self.blocks):
            last = n == len(self.blocks) - 1
            pieces.append(text if details or last else text + "\n\n")
        return "".join(pieces)

    def _part(self, message: Message, part: Part, folded: bool) -> None:
        kind, text = part.get("type"), part.get("text")
        text = text if isinstance(text, str) else ""
        if kind == "thought" and text.strip():
            self._close_call()
            self.blocks.append((True, _reasoning(part, text)))
        elif kind == "code":
            self._close_call()
            self.call = (message, part)
        elif kind == "execution_output":
            self._close_call((message, part))
        elif kind == "error" and not folded:
            self.error = text if self.error is None else f"{self.error}\n\n{text}"
        elif kind in SHOWN_TEXT and not folded and text.strip():
            self._close_call()
            self.blocks.append((False, without_citation_marks(text)))

    def _close_call(self, output: tuple[Message, Part] | None = None) -> None:
        """Write the waiting tool call (and ``output`` as its result) as one block."""
        call, self.call = self.call, None
        if call is None and output is None:
            return
        self.blocks.append((True, _tool_call(call, output)))

    def _file(self, ref: AttachmentRef) -> None:
        url = self.image(ref)
        if url is not None:
            named = {"name": ref.name} if ref.name else {}
            self.files.append({"type": "image", "url": url, **named})


def _reasoning(part: Part, text: str) -> str:
    """Open WebUI's reasoning block: the text quoted and escaped, the duration when known."""
    quoted = "\n".join(line if line.startswith(">") else f"> {line}" for line in text.splitlines())
    duration = part.get("duration")
    seconds = int(duration) if isinstance(duration, int | float) and duration >= 0 else None
    summary = part.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        summary = f"Thought for {seconds} seconds" if seconds is not None else "Thought"
    timing = f' duration="{seconds}"' if seconds is not None else ""
    return (
        f'<details type="reasoning" done="true"{timing}>\n'
        f"<summary>{html.escape(' '.join(summary.split()))}</summary>\n"
        f"{html.escape(quoted)}\n</details>\n"
    )


def _tool_call(call: tuple[Message, Part] | None, output: tuple[Message, Part] | None) -> str:
    """Open WebUI's tool-call block, with the attributes its own ``serialize_output`` writes.

    The name is the call's, else its result's, else whom the call was sent to (ChatGPT's
    ``recipient``: ``python``, ``dalle.text2im``), else the author of either.
    """
    sides = [side for side in (call, output) if side is not None]
    names = [part.get("name") for _, part in sides] + [m.meta.get("recipient") for m, _ in sides]
    names = [n for n in names if n != "all"] + [m.author_name for m, _ in sides]
    ids = [part.get("call_id") for _, part in sides]
    code, result = (call[1] if call else {}), (output[1] if output else {})
    arguments = code.get("text") if isinstance(code.get("text"), str) else ""
    text = result.get("text") if isinstance(result.get("text"), str) else ""
    attributes = {
        "type": "tool_calls",
        "done": "true",
        "id": next((str(i) for i in ids if i), ""),
        "name": next((str(n) for n in names if n), "tool"),
        "arguments": json.dumps(arguments),
        "result": json.dumps(text, ensure_ascii=False),
        "files": "",
        "embeds": json.dumps(""),
    }
    joined = " ".join(f'{key}="{html.escape(value)}"' for key, value in attributes.items())
    return f"<details {joined}>\n<summary>Tool Executed</summary>\n</details>\n"


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
