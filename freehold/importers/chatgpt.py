"""ChatGPT data exports, every era 2023–2026 (FORMATS.md §A).

Accepts the zip, an unpacked folder, a ``conversations.json``, sharded
``conversations-NNN.json`` files, or one conversation object. Conversations are read one at a
time (``jsonstream``) straight from the zip; nothing is extracted. The mapping tree is rebuilt
from ``parent`` links only (2026 exports drop ``children``), repaired by ``tree.build_tree``.
Attachments are resolved for every era: ``file-service://`` and ``sediment://`` pointers by
file-id prefix across the root, ``dalle-generations/`` and ``user-*/``, and 2026 ``.dat`` blobs
through ``conversation_asset_file_names.json``. Account-level files are kept raw; the
``export_manifest.json`` of 2026 exports is checked against what the zip really holds.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from freehold.errors import BadExportError, FreeholdError, UnsafeArchiveError
from freehold.importers._chatgpt_content import convert_content
from freehold.importers._common import export_problems
from freehold.importers._common import text_or_none as _str
from freehold.importers._safezip import ExportFiles, OneFile, open_export
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    ExportInfo,
    Message,
    Problem,
    Record,
    SourceFile,
)
from freehold.tree import build_tree

__all__ = ["KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "chatgpt"
PARSER_VERSION = "chatgpt/1"

_CONVERSATIONS = re.compile(r"(?:^|/)conversations(?:-(\d+))?\.json$")
_FILE_KEY = re.compile(r"^(file[-_][A-Za-z0-9]+)")
_SIDE_FILE_LIMIT = 256 << 20
_STATUS = {"finished_successfully": "complete", "in_progress": "incomplete"}


def detect(path: Path) -> bool:
    """True for a ChatGPT export: a zip/folder with conversations JSON, or such a JSON file."""
    try:
        files = open_export(path)
    except UnsafeArchiveError:
        raise
    except FreeholdError:
        return False
    try:
        if isinstance(files, OneFile):
            head = _head(files, files.names()[0])
            return b'"mapping"' in head and (b'"current_node"' in head or b'"title"' in head)
        shards = sorted(name for name in files.names() if _CONVERSATIONS.search(name))
        # Claude exports have a conversations.json too: look inside, not at the name alone.
        return bool(shards) and _looks_like_chatgpt(_head(files, shards[0]))
    finally:
        files.close()


def _head(files: ExportFiles, name: str) -> bytes:
    """Up to 64 KiB from the start of ``name``; what was read before a broken end is kept
    (the import itself then reports the damage)."""
    chunks: list[bytes] = []
    try:
        with files.open(name) as handle:
            while sum(map(len, chunks)) < 1 << 16 and (chunk := handle.read(4096)):
                chunks.append(chunk)
    except (FreeholdError, EOFError, zlib.error, zipfile.BadZipFile):
        pass
    return b"".join(chunks)


def _looks_like_chatgpt(head: bytes) -> bool:
    """Conversations with a ``mapping``, or an empty array (an account with no chats yet)."""
    if b'"chat_messages"' in head.split(b'"mapping"', 1)[0]:
        return False
    return b'"mapping"' in head or head.strip() == b"[]"


def iter_conversations(path: Path) -> Iterator[Record]:
    """Yield an ``ExportInfo``, then conversations, kept files and problems."""
    files = open_export(path)
    try:
        yield from _Export(files).records()
    finally:
        files.close()


class _Export:
    """One open export: its files, its attachment index and its account."""

    def __init__(self, files: ExportFiles) -> None:
        self.files = files
        names = files.names()
        self.shards = sorted(
            (n for n in names if _CONVERSATIONS.search(n)),
            key=lambda n: (n.count("/"), int(_CONVERSATIONS.search(n).group(1) or -1), n),  # type: ignore[union-attr]
        )
        if isinstance(files, OneFile):
            self.shards = names
        if not self.shards:
            raise BadExportError(
                f"{files.label}: no conversations.json or conversations-NNN.json found "
                "— is this a ChatGPT export? Unzip it and check, or download it again"
            )
        self.root = self.shards[0].rpartition("/")[0]
        self.root_prefix = self.root + "/" if self.root else ""
        self.account_id: str | None = None
        self.assets: dict[str, str] = {}
        self.used: set[str] = set(self.shards)

    def records(self) -> Iterator[Record]:
        side = list(self._side_files())
        info = ExportInfo(
            kind=KIND,
            account_id=self.account_id,
            full_export=not isinstance(self.files, OneFile),
            files=[(name, self.files.size(name)) for name in self.shards],
        )
        yield info
        yield from export_problems(self.files)
        yield from side
        yield from self._check_manifest()
        self._index_assets()
        for shard in self.shards:
            yield from self._read_shard(shard)
        yield from self._unread()

    def _unread(self) -> Iterator[Problem]:
        """Name what the export holds that nothing read or pointed at (loud, not lost)."""
        ignored = {self.root_prefix + "chat.html"}  # the same conversations, as a web page
        unread = sorted(set(self.files.names()) - self.used - ignored)
        if unread:
            listed = ", ".join(unread[:5]) + (
                f" and {len(unread) - 5} more" if len(unread) > 5 else ""
            )
            yield Problem(
                self.files.label,
                f"{len(unread)} file(s) not referenced by any conversation, left in the export: "
                f"{listed}",
                lost=False,
            )

    def _side_files(self) -> Iterator[Record]:
        for name in self.files.names():
            if not name.startswith(self.root_prefix) or name in self.shards:
                continue
            local = name[len(self.root_prefix) :]
            if "/" in local or not local.endswith(".json"):
                continue
            if self.files.size(name) > _SIDE_FILE_LIMIT:
                yield Problem(name, "larger than 256 MiB; not kept", lost=True)
                continue
            with self.files.open(name) as handle:
                raw = handle.read()
            self.used.add(name)
            yield SourceFile(local, raw)
            if local == "user.json":
                self.account_id = _account_id(raw)

    def _json(self, local: str) -> Any:
        name = self.root_prefix + local
        if name not in self.files.names():
            return None
        with self.files.open(name) as handle:
            try:
                return orjson.loads(handle.read())
            except orjson.JSONDecodeError:
                return None

    def _check_manifest(self) -> Iterator[Problem]:
        manifest = self._json("export_manifest.json")
        if not isinstance(manifest, dict):
            return
        present = set(self.files.names())
        for entry in manifest.get("export_files") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                continue
            name = self.root_prefix + entry["path"]
            if name not in present:
                yield Problem(name, "listed in export_manifest.json but missing from the export")
            elif entry.get("size_bytes") not in (None, self.files.size(name)):
                yield Problem(
                    name,
                    f"size {self.files.size(name)} but export_manifest.json says "
                    f"{entry['size_bytes']} (truncated?)",
                )

    def _index_assets(self) -> None:
        """Map file ids (``file-…`` / ``file_…``) to the zip members that hold their bytes."""
        names = self.files.names()
        for name in names:
            match = _FILE_KEY.match(PurePosixPath(name).name)
            if match and not name.endswith(".json"):
                self.assets.setdefault(match.group(1), name)
        mapping = self._json("conversation_asset_file_names.json")
        if isinstance(mapping, dict):
            for member, original in mapping.items():
                match = _FILE_KEY.match(PurePosixPath(str(original)).name)
                full = self.root_prefix + member
                if match and full in names:
                    self.assets.setdefault(match.group(1), full)

    def resolve(self, ref: AttachmentRef) -> None:
        key = ref.pointer.rsplit("/", 1)[-1]
        match = _FILE_KEY.match(key)
        member = self.assets.get(match.group(1)) if match else None
        if member is not None:
            ref.opener = partial(self.files.open, member)
            self.used.add(member)
            ref.name = ref.name or PurePosixPath(member).name

    def _read_shard(self, shard: str) -> Iterator[Record]:
        count = 0
        try:
            with self.files.open(shard) as handle:
                for element in iter_elements(handle):
                    count += 1
                    yield from self._element(
                        shard, element.index, element.value, element.raw, element.problems
                    )
        except JsonStreamError as error:
            yield Problem(
                shard,
                f"{error} at character {error.offset}: {count} conversation(s) read before it; "
                "the rest of this file was not imported — download the export again",
            )
        except FreeholdError as error:
            yield Problem(shard, str(error))
        except (EOFError, zlib.error, zipfile.BadZipFile) as error:
            yield Problem(
                shard,
                f"the data stops ({error}): {count} conversation(s) read before it; "
                "the rest of this file was not imported — download the export again",
            )

    def _element(
        self, shard: str, index: int, value: Any, raw: bytes, problems: list[str]
    ) -> Iterator[Record]:
        where = f"{shard}[{index}]"
        if value is None:
            yield Problem(where, "; ".join(problems), skipped=1)
            return
        items = value.get("conversations") if isinstance(value, dict) else None
        if isinstance(items, list) and "mapping" not in value:
            for number, item in enumerate(items):
                yield from self._element(shard, number, item, orjson.dumps(item), [])
            return
        try:
            conversation = self.conversation(value, raw)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            what = f"not a readable conversation ({type(error).__name__}: {error})"
            yield Problem(where, what, skipped=1)
            return
        conversation.problems[:0] = problems
        yield conversation

    def conversation(self, obj: dict[str, Any], raw: bytes) -> Conversation:
        source_id = obj.get("conversation_id") or obj.get("id")
        if not isinstance(source_id, str) or not source_id:
            raise ValueError("no conversation id")
        mapping = obj.get("mapping")
        problems: list[str] = []
        if not isinstance(mapping, dict):
            problems.append("no mapping: conversation kept without messages")
            mapping = {}
        messages, context = self._messages(mapping)
        tree = build_tree(messages, _str(obj.get("current_node")))
        return Conversation(
            source_kind=KIND,
            source_id=source_id,
            title=_str(obj.get("title")),
            messages=tree.messages,
            raw=raw,
            created_at=_num(obj.get("create_time")),
            updated_at=_num(obj.get("update_time")),
            current_leaf=tree.leaf,
            model=_str(obj.get("default_model_slug")) or _main_model(tree.messages),
            account_id=self.account_id,
            project=_str(obj.get("gizmo_id")) or _str(obj.get("conversation_template_id")),
            archived=bool(obj.get("is_archived")),
            starred=bool(obj.get("is_starred")),
            context=context,
            problems=problems + tree.problems,
        )

    def _messages(self, mapping: dict[str, Any]) -> tuple[list[Message], list[ContextRecord]]:
        empty = {
            key
            for key, node in mapping.items()
            if not isinstance(node, dict) or not node.get("message")
        }
        messages: list[Message] = []
        context: list[ContextRecord] = []
        for key, node in mapping.items():
            if key in empty:
                continue
            parent = node.get("parent")
            seen = 0
            while parent in empty and seen < len(empty):
                parent_node = mapping.get(parent)
                parent = parent_node.get("parent") if isinstance(parent_node, dict) else None
                seen += 1
            message = self._message(str(key), _str(parent), node["message"], context)
            messages.append(message)
        return messages, context

    def _message(
        self, key: str, parent: str | None, msg: dict[str, Any], context: list[ContextRecord]
    ) -> Message:
        author = msg.get("author") or {}
        metadata = msg.get("metadata") or {}
        role = str(author.get("role") or "unknown")
        content_type, content = convert_content(msg.get("content"), metadata)
        for ref in content.attachments:
            self.resolve(ref)
        created = _num(msg.get("create_time"))
        recipient = msg.get("recipient")
        for record in content.context:
            record.created_at, record.message_source_id = created, key
        context.extend(content.context)
        if recipient == "bio" and content.text:
            context.append(ContextRecord("memory", content.text, {"tool": "bio"}, created, key))
        hidden = (
            content.hidden
            or role in ("system", "tool")
            or bool(metadata.get("is_visually_hidden_from_conversation"))
            or recipient not in (None, "all")
        )
        return Message(
            source_id=key,
            parent_source_id=parent,
            role=role,
            content_type=content_type,
            parts=content.parts,
            text=content.text,
            author_name=_str(author.get("name")),
            model=_str(metadata.get("model_slug")),
            created_at=created,
            hidden=hidden,
            status=_status(msg, metadata),
            meta=_meta(msg, metadata),
            attachments=content.attachments,
        )


def _status(msg: dict[str, Any], metadata: dict[str, Any]) -> str:
    finish = metadata.get("finish_details") or {}
    if isinstance(finish, dict) and finish.get("type") == "interrupted":
        return "interrupted"
    status = msg.get("status")
    return _STATUS.get(status, str(status)) if status else "complete"


_META_KEYS = ("finish_details", "gizmo_id", "invoked_plugin", "attachments", "is_complete")


def _meta(msg: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """A small, useful subset of the message's metadata; the raw JSON keeps all of it."""
    meta = {key: metadata[key] for key in _META_KEYS if metadata.get(key) is not None}
    for key in ("recipient", "channel", "end_turn"):
        if msg.get(key) not in (None, "all"):
            meta[key] = msg[key]
    return meta


def _main_model(messages: list[Message]) -> str | None:
    models = Counter(m.model for m in messages if m.model)
    return models.most_common(1)[0][0] if models else None


def _account_id(raw: bytes) -> str | None:
    try:
        user = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return _str(user.get("id")) if isinstance(user, dict) else None


def _num(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    return None
