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
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import Any, ClassVar

import orjson

from freehold._words import plural
from freehold.importers import _diagnose
from freehold.importers import _fields as field
from freehold.importers._chatgpt_content import convert_content
from freehold.importers._skeleton import (
    READ_ERRORS,
    Claim,
    Element,
    Format,
    Look,
    folder_of,
    under,
)
from freehold.models import (
    AttachmentRef,
    ContextRecord,
    Conversation,
    Message,
    Problem,
    Record,
    SourceFile,
)
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "iter_conversations"]

KIND = "chatgpt"
PARSER_VERSION = "chatgpt/3"

_CONVERSATIONS = re.compile(r"(?:^|/)conversations(?:-(\d+))?\.json$")
_FILE_KEY = re.compile(r"^(file[-_][A-Za-z0-9]+)")
# The folders of an export's own media (FORMATS.md §A.1); other folders inside it are offered
# to the other formats first.
_OWN_FOLDERS = re.compile(r"^(?:dalle-generations|user-.+|textdocs|sites)$")
_SIDE_FILE_LIMIT = 256 << 20
_STATUS = {"finished_successfully": "complete", "in_progress": "incomplete"}
# One conversation saved on its own; Claude files name ``chat_messages`` first.
_ONE = Look(keys=("mapping", ("current_node", "title")), not_before=("chat_messages",))


class _ChatGPT(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "ChatGPT"
    companions: ClassVar[dict[str, str]] = {
        "chat.html": "ChatGPT's chat.html page (the same conversations, as a web page)",
        "user.json": "the account file of a ChatGPT export",
        "message_feedback.json": "the feedback file of a ChatGPT export",
        "shared_conversations.json": "the shared-links file of a ChatGPT export",
        "model_comparisons.json": "the model-comparisons file of a ChatGPT export",
        "user_settings.json": "the settings file of a ChatGPT export",
        "export_manifest.json": "the manifest of a ChatGPT export",
        "conversation_asset_file_names.json": "the attachment index of a ChatGPT export",
        "library_files.json": "the library file of a ChatGPT export",
    }
    advice = "import conversations.json or the whole zip"
    missing = (
        "no conversations.json or conversations-NNN.json found "
        "— is this a ChatGPT export? Unzip it and check, or download it again"
    )

    def __init__(self, export: Any) -> None:
        super().__init__(export)
        self.shards: list[str] = []  # the files of conversations, read in this order
        self.layout = False  # whether they are an export's folder (account files, attachments)
        self.root_prefix = ""
        self.owned: set[str] = set()
        self.assets: dict[str, str] = {}
        self.originals: dict[str, str] = {}  # a 2026 ``.dat`` member → the file's own name
        self.used: set[str] = set()

    def claim(self) -> Claim:
        """ChatGPT conversations, recognised by what they hold, as a file alone or in a folder
        or zip: there, the export's ``conversations.json`` (or its 2026 shards), which owns its
        folder, and any other JSON file of ChatGPT conversations (``conversations (1).json``),
        read as it would be alone. The folder of another export's conversations (two exports
        unpacked side by side, or one inside the other) is left whole to a claim of its own."""
        names = self.export.names()
        if self.export.one_file:
            return Claim(names, set(names)) if _ONE.matches(self.export.head(names[0])) else Claim()
        named = self._shards(names)
        shards: list[str] = []
        owns: set[str] = set()
        others: set[str] = set()  # the folders of other exports, left for their own claims
        if named:  # the export's folder: that of the shallowest one that shows conversations
            roots = [folder_of(n) for n in named if _looks_like_chatgpt(self.export.start(n))]
            self.root_prefix = roots[0]
            others = set(roots) - {self.root_prefix}
            # Its own conversation files, and those that show nothing outside another
            # export's folder (reading them says what is wrong with them).
            shards = [n for n in named if not under(n, others)]
            owns = {n for n in names if n.startswith(self.root_prefix) and not under(n, others)}
        self.shards = shards
        shared = {n for n in owns if not self._own(n)}
        loose = [
            n
            for n in names
            if (n in shared or n not in owns) and not under(n, others) and self._alone(n)
        ]
        self.layout = bool(shards)
        self.shards = shards + loose
        self.used = set(self.shards)
        self.owned = owns | set(loose)
        return Claim(self.shards, self.owned, shared - set(loose), again=bool(others))

    def _alone(self, name: str) -> bool:
        """A file of ChatGPT conversations (or one conversation) judged by its content alone,
        whatever its name: its first bytes, then its head."""
        if name in self.shards or self.export.start(name, 4096)[:1] not in (b"{", b"["):
            return False  # a picture, an upload: never read further
        return _ONE.matches(self.export.head(name))

    def _shards(self, names: list[str]) -> list[str]:
        """The export's conversation files by name (shallowest first, shards in order), each
        looked into: one that holds something else (a Claude export's ``conversations.json``)
        is not ChatGPT's; one that shows nothing (empty, damaged from its start) is, beside one
        that does look like ChatGPT's, so that reading it reports what is wrong with it."""
        named = sorted((n for n in names if _CONVERSATIONS.search(n)), key=_shard_order)
        heads = {name: self.export.start(name) for name in named}
        if not any(_looks_like_chatgpt(head) for head in heads.values()):
            return []
        return [n for n in named if not heads[n] or _looks_like_chatgpt(heads[n])]

    def _own(self, name: str) -> bool:
        """One of the export's own files: its conversations, a known file at its top, an
        upload (``file-…``) or a file in one of its media folders. Anything else in its folder
        (a Grok file dropped in, another export's folder) is offered to the other formats
        first, and comes back to this export when none of them reads it."""
        if name in self.shards:
            return True
        local = name[len(self.root_prefix) :]
        top, slash, _ = local.partition("/")
        if slash:
            return bool(_OWN_FOLDERS.match(top))
        return local in self.companions or bool(_FILE_KEY.match(local))

    def full_export(self) -> bool:
        return self.layout  # a conversations file on its own may be any part of an account

    def prologue(self, names: list[str]) -> Iterator[Record]:
        if not self.layout:
            return  # conversations files read as each would be alone: no account, no uploads
        yield from self._side_files()
        yield from self._check_manifest()
        self._index_assets()

    def epilogue(self, names: list[str]) -> Iterator[Record]:
        """Name what the export holds that nothing read or pointed at (loud, not lost)."""
        ignored = {self.root_prefix + "chat.html"}  # the same conversations, as a web page
        unread = sorted(self.owned - self.used - ignored - set(names))
        own = [name for name in unread if self._own(name)]
        for name in (name for name in unread if name not in own):
            # another file in its folder, no format's (a README): said what it is, as a
            # folder of several exports says it; a note, as before, inside an export read
            found = _diagnose.member(self.export, name)
            yield Problem(name, _diagnose.left_out(found), lost=False)
        if own:
            listed = ", ".join(own[:5]) + (f" and {len(own) - 5} more" if len(own) > 5 else "")
            yield Problem(
                self.export.label,
                f"{plural(len(own), 'file')} not referenced by any conversation, left out: "
                f"{listed}",
                lost=False,
            )

    def _side_files(self) -> Iterator[Record]:
        for name in self.export.names():
            if not name.startswith(self.root_prefix) or name in self.shards:
                continue
            local = name[len(self.root_prefix) :]
            if "/" in local or not local.endswith(".json"):
                continue
            if self.export.size(name) > _SIDE_FILE_LIMIT:
                yield Problem(name, "larger than 256 MiB; not kept", lost=True)
                continue
            self.used.add(name)
            try:
                with self.export.open(name) as handle:
                    raw = handle.read()
            except READ_ERRORS as error:  # the conversations are read all the same
                yield Problem(name, f"damaged: its data cannot be read ({error}) — {self.again}")
                continue
            yield SourceFile(name, raw)  # its path in the export: two exports keep two
            if local == "user.json":
                self.account_id = _account_id(raw)

    def _json(self, local: str) -> Any:
        name = self.root_prefix + local
        if name not in self.export.names():
            return None
        try:  # a damaged file is reported by ``_side_files``, which keeps the rest
            with self.export.open(name) as handle:
                return orjson.loads(handle.read())
        except (*READ_ERRORS, orjson.JSONDecodeError):
            return None

    def _check_manifest(self) -> Iterator[Problem]:
        manifest = self._json("export_manifest.json")
        if not isinstance(manifest, dict):
            return
        present = set(self.export.names())
        for entry in manifest.get("export_files") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                continue
            name = self.root_prefix + entry["path"]
            if name not in present:
                yield Problem(name, "listed in export_manifest.json but missing from the export")
            elif entry.get("size_bytes") not in (None, self.export.size(name)):
                yield Problem(
                    name,
                    f"size {self.export.size(name)} but export_manifest.json says "
                    f"{entry['size_bytes']} (truncated?)",
                )

    def _index_assets(self) -> None:
        """Map file ids (``file-…`` / ``file_…``) to the zip members that hold their bytes, and
        each 2026 ``.dat`` member to the name ``conversation_asset_file_names.json`` gives it
        (``holiday photo.png``), the name the file is kept and shown under."""
        names = self.export.names()
        for name in names:
            match = _FILE_KEY.match(PurePosixPath(name).name)
            if match and not name.endswith(".json"):
                self.assets.setdefault(match.group(1), name)
        mapping = self._json("conversation_asset_file_names.json")
        if not isinstance(mapping, dict):
            return
        present = set(names)
        for member, original in mapping.items():
            full = self.root_prefix + member
            own = PurePosixPath(original).name if isinstance(original, str) else ""
            if full not in present or not own:
                continue
            self.originals[full] = own
            match = _FILE_KEY.match(own)
            if match:
                self.assets.setdefault(match.group(1), full)

    def resolve(self, ref: AttachmentRef) -> None:
        key = ref.pointer.rsplit("/", 1)[-1]
        match = _FILE_KEY.match(key)
        member = self.assets.get(match.group(1)) if match else None
        if member is not None:
            ref.opener = partial(self.export.open, member)
            self.used.add(member)
            ref.name = ref.name or self.originals.get(member) or PurePosixPath(member).name

    def elements(self, name: str) -> Iterator[Element]:
        """Each conversation; an object wrapping a ``conversations`` list gives its items."""
        for where, value, raw, problems in super().elements(name):
            items = value.get("conversations") if isinstance(value, dict) else None
            if isinstance(items, list) and "mapping" not in value:
                for number, item in enumerate(items):
                    yield f"{name}[{number}]", item, orjson.dumps(item), []
            else:
                yield where, value, raw, problems

    def identify(self, value: Any, raw: bytes) -> str | None:
        return field.text(value, "conversation_id") or field.text(value, "id")

    def convert(self, obj: dict[str, Any], raw: bytes) -> Conversation:
        source_id = self.identify(obj, raw)
        if source_id is None:
            raise ValueError("no conversation id")
        mapping = obj.get("mapping")
        problems: list[str] = []
        if not isinstance(mapping, dict):
            problems.append("no mapping: conversation kept without messages")
            mapping = {}
        messages, context = self._messages(mapping)
        tree = build_tree(messages, field.text(obj, "current_node"))
        return Conversation(
            source_kind=KIND,
            source_id=source_id,
            title=field.text(obj, "title"),
            messages=tree.messages,
            raw=raw,
            created_at=field.when(obj, "create_time"),
            updated_at=field.when(obj, "update_time"),
            current_leaf=tree.leaf,
            model=field.text(obj, "default_model_slug") or _main_model(tree.messages),
            account_id=self.account_id,
            project=field.text(obj, "gizmo_id") or field.text(obj, "conversation_template_id"),
            archived=field.flag(obj, "is_archived"),
            starred=field.flag(obj, "is_starred"),
            context=context,
            problems=problems + tree.problems,
        )

    def _messages(self, mapping: dict[str, Any]) -> tuple[list[Message], list[ContextRecord]]:
        # One pass sorts the nodes: those with a message, and the rest (``empty``: no message,
        # or not a node at all, which ``_node`` notes), whose children hang from their parent.
        live: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        empty: set[str] = set()
        for key, node in mapping.items():
            if node.__class__ is dict:
                message = node.get("message")
                if message is None or message.__class__ is dict:  # the common case
                    if message:
                        live.append((key, node, message))
                    else:
                        empty.add(key)
                    continue
            if _node(key, node) and node.get("message"):
                live.append((key, node, node["message"]))
            else:
                empty.add(key)
        # Who answers each message, looked up only in a conversation of slim messages: 2026
        # exports drop ``recipient`` from every message, older ones name it on every one, so
        # the first message tells, and older exports skip the pass.
        calls = _tool_calls(live) if live and live[0][2].get("recipient") is None else {}
        messages: list[Message] = []
        context: list[ContextRecord] = []
        for key, node, message in live:
            parent = node.get("parent")
            seen = 0
            # Only an id is looked up: a parent of another JSON type (an object is unhashable)
            # ends the walk and is noted below, costing that one link.
            while parent.__class__ is str and parent in empty and seen < len(empty):
                parent_node = mapping.get(parent)
                parent = parent_node.get("parent") if isinstance(parent_node, dict) else None
                seen += 1
            if parent is not None and not isinstance(parent, str):
                field.odd("parent", parent, "a node id")
                parent = None
            messages.append(self._message(key, parent, message, context, calls.get(key)))
        return messages, context

    def _message(
        self,
        key: str,
        parent: str | None,
        msg: dict[str, Any],
        context: list[ContextRecord],
        answered_by: str | None,
    ) -> Message:
        # Each field is read inline when it has its usual type, else by its ``field`` reader,
        # which notes an odd value (and reads it the same way): a third of this method's time.
        author = msg.get("author")
        if author.__class__ is not dict:
            author = field.mapping(msg, "author")
        metadata = msg.get("metadata")
        if metadata.__class__ is not dict:
            metadata = field.mapping(msg, "metadata")
        role = author.get("role")
        if role.__class__ is not str:
            role = field.text(author, "role")
        role = role or "unknown"
        content_type, content = convert_content(msg.get("content"), metadata)
        for ref in content.attachments:
            self.resolve(ref)
        created = msg.get("create_time")
        if created.__class__ is not float or not -1e11 <= created <= 1e11:
            created = field.when(msg, "create_time")
        # The one rule for what is a tool call (hidden) and a memory write (``bio``), every era:
        # the message's recipient, else, for an assistant message a tool answers, that tool.
        recipient = msg.get("recipient")
        inferred = answered_by is not None and recipient is None and role == "assistant"
        if inferred:
            recipient = answered_by
        for record in content.context:
            record.created_at, record.message_source_id = created, key
        context.extend(content.context)
        text = content.text
        if recipient == "bio" and text:
            context.append(ContextRecord("memory", text, {"tool": "bio"}, created, key))
        hidden = (
            content.hidden
            or role in ("system", "tool")
            or field.flag(metadata, "is_visually_hidden_from_conversation")
            or recipient not in (None, "all")
        )
        return Message(
            source_id=key,
            parent_source_id=parent,
            role=role,
            content_type=content_type,
            parts=content.parts,
            text=text,
            author_name=field.text(author, "name"),
            model=field.text(metadata, "model_slug"),
            created_at=created,
            hidden=hidden,
            status=_status(msg, metadata),
            meta=_meta(msg, metadata, recipient if inferred else None),
            attachments=content.attachments,
        )


def _node(key: str, node: Any) -> bool:
    """A mapping entry that is an object (a node); anything else is noted and left out."""
    if not isinstance(node, dict):
        field.odd(f"mapping.{key}", node, "a node object")
        return False
    if node.get("message") is not None and not isinstance(node["message"], dict):
        field.odd(f"mapping.{key}.message", node["message"], "a message object")
        return False
    return True


def _status(msg: dict[str, Any], metadata: dict[str, Any]) -> str:
    if field.text(field.mapping(metadata, "finish_details"), "type") == "interrupted":
        return "interrupted"
    status = field.text(msg, "status")
    return _STATUS.get(status, status) if status else "complete"


_META_KEYS = ("finish_details", "gizmo_id", "invoked_plugin", "attachments", "is_complete")


def _meta(msg: dict[str, Any], metadata: dict[str, Any], inferred: str | None) -> dict[str, Any]:
    """A small, useful subset of the message's metadata; the raw JSON keeps all of it. A
    recipient inferred from the tool that answers is kept as the recipient, and said so."""
    meta = {}
    for key in _META_KEYS:
        value = metadata.get(key)
        if value is not None:
            meta[key] = value
    for key in ("recipient", "channel", "end_turn"):
        value = msg.get(key)
        if value is not None and value != "all":
            meta[key] = value
    if inferred is not None:
        meta["recipient"], meta["recipient_inferred"] = inferred, True
    return meta


def _tool_calls(live: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> dict[str, str]:
    """Node id → the tool that answers it: the author name of a ``tool`` message whose node
    hangs from it (``"tool"`` when that one has no name). 2026 slim messages have no
    ``recipient`` (FORMATS.md §A.4); the next message still says who was called."""
    calls: dict[str, str] = {}
    for _, node, msg in live:
        author, parent = msg.get("author"), node.get("parent")
        if parent.__class__ is not str or author.__class__ is not dict:
            continue
        if author.get("role") != "tool":
            continue
        name = author.get("name")
        calls.setdefault(parent, name if isinstance(name, str) and name else "tool")
    return calls


def _main_model(messages: list[Message]) -> str | None:
    models = Counter(m.model for m in messages if m.model)
    return models.most_common(1)[0][0] if models else None


def _account_id(raw: bytes) -> str | None:
    try:
        user = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return field.text_or_none(user.get("id")) if isinstance(user, dict) else None


def _shard_order(name: str) -> tuple[int, int, str]:
    match = _CONVERSATIONS.search(name)
    number = match.group(1) if match else None
    return name.count("/"), int(number or -1), name


def _looks_like_chatgpt(head: bytes) -> bool:
    """Conversations with a ``mapping``, or an empty array (an account with no chats yet)."""
    if b'"chat_messages"' in head.split(b'"mapping"', 1)[0]:
        return False
    return b'"mapping"' in head or head.strip() == b"[]"


FORMAT = _ChatGPT
detect = _ChatGPT.detect
iter_conversations = _ChatGPT.iter_conversations
