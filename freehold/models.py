"""Source-neutral value types: what every importer yields and every exporter reads.

Pure dataclasses, no I/O. Identity belongs to storage: the ``id`` fields stay ``None`` until the
archive hands a value back. An importer yields a stream of records (``Record``): one
``ExportInfo`` first, then ``Conversation`` objects, ``SourceFile`` objects (account-level files
kept raw, e.g. ``user.json``), account-level ``ContextRecord`` objects and ``Problem`` objects
(what could not be read), in any order.

A message's ``parts`` is a list of JSON-ready dicts, each with a ``type``:

========================  ==========================================================
``text``                  ``{"text"}``
``code``                  ``{"language", "text"}`` (a tool call's input, or code)
``image``                 ``{"pointer", "name"?, "width"?, "height"?, "frame"?}`` (see
                          attachments; ``frame``: a video frame of a voice call)
``audio``                 ``{"pointer"}`` / ``transcript`` ``{"text"}``
``file``                  ``{"pointer", "name"?, "video"?, "size"?}`` (an upload; ``video``: a
                          call's recording; ``size``: bytes, as an export without them says)
``execution_output``      ``{"text"}``
``web``                   ``{"url"?, "title"?, "domain"?, "text"}`` (browsing, quotes)
``citation``              ``{"marker", "url"?, "title"?}``
``thought``               ``{"summary"?, "text"}`` (reasoning, hidden)
``context``               ``{"about_user"?, "about_model"?}`` (custom instructions)
``error``                 ``{"name"?, "text"}``
``unknown``               ``{"content_type", "raw"}`` (stored whole, named in the report)
========================  ==========================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import IO, Any, NamedTuple, TypeVar

__all__ = [
    "ATTEMPT_OUTCOMES",
    "CONTEXT_FIELDS",
    "CONTEXT_KINDS",
    "FILE_PARTS",
    "INSTRUCTION_KINDS",
    "KIND_NAMES",
    "PART_LABELS",
    "REVISION_LABEL",
    "ROLE_NAMES",
    "SHOWN_TEXT",
    "AttachmentRef",
    "Attempt",
    "ContextRecord",
    "Conversation",
    "ExportInfo",
    "Generation",
    "Message",
    "Part",
    "Problem",
    "Record",
    "SourceFile",
    "ThreadCounts",
    "citation_marks",
    "context_label",
    "count_branches",
    "entity_label",
    "not_understood",
    "part_label",
    "pickled_by_fields",
    "revision_of",
    "thread_counts",
    "without_citation_marks",
]

Part = dict[str, Any]
# ChatGPT's markers, kept in a text part's text as written (FORMATS.md §A.6); the ``citation``
# parts say what each citation points at. 2023–24: ``【3†source】``, a dagger inside lenticular
# brackets (without one they are CJK punctuation, kept). 2025+: private-use U+E200, a kind
# (``cite``, ``entity``, …), U+E202 and its data, U+E201. Two patterns, not one alternation:
# each starts with a literal, which ``re`` finds fast (one was 3.5 times slower on long texts).
_OLD_MARK = re.compile("【[^】†\n]{0,40}†[^】\n]{0,120}】")
_NEW_MARK = re.compile(
    "\ue200(?P<kind>[^\ue201\ue202]{0,2000})(?:\ue202(?P<data>[^\ue201]{0,2000}))?\ue201"
)
FILE_PARTS = ("image", "audio", "file")  # part types that point at an attachment
# Part types whose whole content is their ``text``: blank text, nothing to show.
_TEXT_ONLY_PARTS = ("text", "code", "execution_output", "thought", "transcript")
ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}
# The parts that are a message's own words (what ``Message.shown_text`` joins); every other part
# is a tool call or result, reasoning, a web result, an error or a file, shown apart.
SHOWN_TEXT = ("text", "transcript")
# A ``context`` part's fields, each with the label every renderer gives it.
CONTEXT_FIELDS = (
    ("about_user", "About the user"),
    ("about_model", "How to respond"),
    ("memory", "Memory"),
    ("instructions", "Instructions"),
)
# The label every renderer puts on a part shown apart from the message's words (English: the
# web page translates it): ``show``, the Markdown, HTML and PDF exports and the web page, by one
# table (``part_label``), so reasoning never reads as the answer in one of them and not another.
PART_LABELS = {
    "thought": "Thought",
    "web": "Web result",
    "execution_output": "Output",
    "error": "Error",
    "transcript": "voice",
    "unknown": "Content not understood",
}

# An earlier text of a message, kept on import when the platform changed it
# (``archive._revision``): ``<id>#rev-<n>``, a sibling of message ``<id>``, off the visible path.
_REVISION = re.compile(r"(.+)#rev-[1-9][0-9]*")
REVISION_LABEL = "Earlier version (changed upstream, kept on import)"

# What a reader calls a message (a hidden one, mostly) by what it holds, first rule that matches:
# a few source content types that say more than their parts, then the parts, then the role.
_CONTENT_KINDS = {
    "reasoning_recap": "Reasoning summary",
    "user_editable_context": "Custom instructions",
    "model_editable_context": "Memory",
    "system_content": "System instructions",
}
_PART_KINDS = (
    ("code", "Tool call"),
    ("execution_output", "Tool output"),
    ("thought", "Reasoning"),
    ("web", "Web results"),
    ("context", "Custom instructions"),
    ("error", "Error"),
)
_ROLE_KINDS = {
    "system": "System message",
    "tool": "Tool output",
    "assistant": "Assistant message",
    "user": "User message",
}
KIND_NAMES = frozenset(
    {*_CONTENT_KINDS.values(), *(name for _, name in _PART_KINDS), *_ROLE_KINDS.values()}
    | {"Message"}
)
_TOOL_PARTS = ("code", "execution_output")
_Class = TypeVar("_Class", bound=type)


def pickled_by_fields(cls: _Class) -> _Class:
    """Pickle the dataclass ``cls`` as a call of its constructor with every field, in order:
    a third of the time of the default for a slotted dataclass, both ways (an import's reader
    process sends thousands a second to the writer, ``ingest``)."""
    values = attrgetter(*(f.name for f in fields(cls)))

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return (cls, values(self))

    setattr(cls, "__reduce__", __reduce__)  # noqa: B010
    return cls


@pickled_by_fields
@dataclass(slots=True)
class AttachmentRef:
    """A file a message points at; ``opener`` is None when the export lacks the bytes.

    ``mime`` is the type the export declares; ``sniffed_mime`` the one read from the bytes.
    An import reads the bytes behind a ``pointer`` once, so a pointer names one file
    throughout the export; where it is only a place in a message (Open WebUI's ``files[0]``),
    the importer sets ``sha256`` from the bytes it already holds, and that tells files apart.
    """

    pointer: str
    name: str | None = None
    mime: str | None = None
    size: int | None = None
    opener: Callable[[], IO[bytes]] | None = None
    sha256: str | None = None
    sniffed_mime: str | None = None
    # The name the file was first stored under, when an export says it (freehold's own): a
    # file stored anew takes it rather than ``name``, so a round trip keeps it.
    first_name: str | None = None


ATTEMPT_OUTCOMES = ("ok", "incomplete", "interrupted", "error", "skipped")


@dataclass(slots=True)
class Attempt:
    """One try of one model for one answer (``router.py``), in the order they were made.

    ``outcome``: ``ok`` (the answer, whole), ``incomplete`` (text came, then the stream broke
    or ended without its finish marker), ``interrupted`` (stopped by the person), ``error``
    (nothing came: ``fault`` is the kind, ``error`` the provider's words, key-free), or
    ``skipped`` (the provider's circuit was open). ``ms`` is the time the try took;
    ``waited_ms`` the back-off before it.
    """

    provider: str
    model: str
    outcome: str
    error: str | None = None
    fault: str | None = None
    ms: int = 0
    tokens_in: int | None = None
    tokens_out: int | None = None
    served_model: str | None = None
    started_at: float | None = None
    waited_ms: int = 0


@dataclass(slots=True)
class Generation:
    """How freehold got an answer from a provider: what was asked, what answered, every try.

    ``requested_model`` is the model id the answering provider was asked for (the route's
    earlier models appear in ``attempts``); ``served_model`` the one its response named.
    ``target`` is what the command named (a route, an alias or a reference).
    """

    provider: str | None
    requested_model: str | None
    served_model: str | None
    target: str | None = None
    finish_reason: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    attempts: list[Attempt] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Message:
    """One node of a conversation tree.

    ``origin`` is None for a message an export brought and ``"local"`` for one written here
    (``freehold chat``): a later re-import never takes those off the visible path. An answer
    written here carries its ``generation``.
    """

    source_id: str
    parent_source_id: str | None
    role: str
    content_type: str
    parts: list[Part]
    text: str
    author_name: str | None = None
    model: str | None = None
    created_at: float | None = None
    hidden: bool = False
    status: str = "complete"
    on_visible_path: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    attachments: list[AttachmentRef] = field(default_factory=list)
    id: int | None = None
    parent_id: int | None = None
    origin: str | None = None
    generation: Generation | None = None

    def label(
        self, translate: Callable[[str], str] | None = None, *, with_model: bool = False
    ) -> str:
        """ "Assistant: Name (model) · Tool: web_search": who speaks, on one line.

        The tools named are those the message calls or answers for (``tool_names``), when
        its author is not already that tool. ``translate`` turns the English words into the
        reader's language.
        """
        tr = translate or _same
        role = self.turn_role
        label = tr(ROLE_NAMES.get(role, role.title() or "Unknown"))
        if self.author_name:
            label += f": {self.author_name}"
        if with_model and self.model and self.role == "assistant":
            label += f" ({self.model})"
        tools = [name for name in self.tool_names() if name != self.author_name]
        if tools:
            label += f" · {tr('Tool' if len(tools) == 1 else 'Tools')}: {', '.join(tools)}"
        return " ".join(label.split())

    @property
    def revision_of(self) -> str | None:
        """The source id of the message this one is an earlier version of (words the platform
        changed since, kept on import as ``<id>#rev-<n>``), None for any other message: the
        one rule every reader asks, so a revision is labelled ``REVISION_LABEL`` beside its
        message, never shown as a branch nor continued from."""
        return revision_of(self.source_id)

    def tool_names(self) -> list[str]:
        """The tools the message's calls and outputs name (Claude, Open WebUI, LibreChat keep
        them on the parts), once each, in order."""
        names = (part.get("name") for part in self.parts if part.get("type") in _TOOL_PARTS)
        return list(dict.fromkeys(name for name in names if isinstance(name, str) and name))

    def kind(self) -> str:
        """What the message is, as a reader calls it ("Reasoning summary", "Tool call"): the
        label of a hidden item, one of ``KIND_NAMES`` (English; translate for the reader)."""
        if self.content_type in _CONTENT_KINDS:
            return _CONTENT_KINDS[self.content_type]
        types = {part.get("type") for part in self.parts}
        found = (name for part_type, name in _PART_KINDS if part_type in types)
        return next(found, _ROLE_KINDS.get(self.role, "Message"))

    def layout(self) -> tuple[list[tuple[Part, AttachmentRef | None]], list[AttachmentRef]]:
        """What the message shows, in reading order, for every renderer.

        First its parts, citations left out (see ``sources``); a part that points at a file
        (image, audio, file) comes with that file's reference, the declared one when the
        message lists it, else one made from the part. Then the attached files no part showed.
        """
        refs = {ref.pointer: ref for ref in self.attachments}
        shown: list[tuple[Part, AttachmentRef | None]] = []
        for part in self.parts:
            kind, pointer = part.get("type"), part.get("pointer")
            if kind == "citation":
                continue
            if kind in FILE_PARTS and isinstance(pointer, str):
                ref = refs.get(pointer) or AttachmentRef(pointer, part.get("name"))
                shown.append((part, ref))
            else:
                shown.append((part, None))
        pointed = {ref.pointer for _, ref in shown if ref is not None}
        return shown, [ref for ref in self.attachments if ref.pointer not in pointed]

    def shown_text(self) -> str:
        """The message's own words as plain text, the one rule for every export that takes a
        message as text (JSONL ``content``, CSV ``text``, Open WebUI ``content``): its
        ``SHOWN_TEXT`` parts in ``layout`` order as Markdown renders them, citation markers
        out, joined by blank lines. ``text`` is the search text, which also holds tool inputs
        and results and some reasoning: never a message's words."""
        shown, _ = self.layout()
        texts = (
            without_citation_marks(str(part.get("text") or ""))
            for part, ref in shown
            if ref is None and part.get("type") in SHOWN_TEXT
        )
        return "\n\n".join(text for text in texts if text.strip())

    @property
    def turn_role(self) -> str:
        """Who speaks in a chat format: ``tool`` for a message holding nothing but tool output
        (Claude's tool results sent as a human turn, AI Studio's code execution results),
        else its role. The rule the JSONL and Open WebUI exports share."""
        types = {part.get("type") for part in self.parts}
        return "tool" if types == {"execution_output"} else self.role

    def has_content(self) -> bool:
        """Whether a reader has anything to see: text, a file, or a part that is not blank
        (what ``layout`` gives, the rule every renderer reads). False only for an empty
        turn, ChatGPT's ``parts: [""]``, which ChatGPT and the exports leave out."""
        if self.text.strip():
            return True
        shown, unused = self.layout()
        return bool(unused) or any(ref is not None or not _blank(part) for part, ref in shown)

    def sources(self) -> dict[str, str]:
        """The URLs the message's citations point at, once each, with a title (else the URL)."""
        seen: dict[str, str] = {}
        for part in self.parts:
            url = part.get("url")
            if part.get("type") == "citation" and isinstance(url, str) and url not in seen:
                seen[url] = str(part.get("title") or url)
        return seen


def revision_of(source_id: str) -> str | None:
    """The source id a message's ``source_id`` names it an earlier version of
    (``<id>#rev-<n>``, ``Message.revision_of``), else None."""
    if "#rev-" not in source_id:  # a test 7x faster than the pattern: once per message imported
        return None
    match = _REVISION.fullmatch(source_id)
    return match[1] if match else None


def part_label(part: Part, translate: Callable[[str], str] | None = None) -> str:
    """The label a part shown apart carries (``PART_LABELS``), ``translate`` turning it into the
    reader's language: a thought's with its summary (``Thought: Weighing the options``), an
    unknown part's with its content type; "" for a part that is the message's own words."""
    kind = str(part.get("type"))
    if kind not in PART_LABELS:
        return ""
    label = (translate or _same)(PART_LABELS[kind])
    summary = part.get("summary") if kind == "thought" else part.get("content_type")
    if kind in ("thought", "unknown") and isinstance(summary, str) and summary.strip():
        label += f": {' '.join(summary.split())}"
    return label


def not_understood(part: Part) -> Part:
    """A part no renderer knows, as an ``unknown`` one naming what it is (its content type,
    else its type): what its label (``part_label``) says."""
    return {"type": "unknown", "content_type": part.get("content_type") or part.get("type")}


def _blank(part: Part) -> bool:
    return part.get("type") in _TEXT_ONLY_PARTS and not str(part.get("text") or "").strip()


@pickled_by_fields
@dataclass(slots=True)
class ContextRecord:
    """Personal context: custom instructions, a memory note, a profile text.

    Inside a ``Conversation`` it belongs to that conversation; yielded on its own by an importer
    it belongs to the account (a memory file, project instructions), keyed by
    ``message_source_id`` (e.g. ``memories.json#0``) so a re-import updates it in place.
    """

    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None
    message_source_id: str | None = None


# What the importers call their personal-context records, as a reader calls them.
CONTEXT_KINDS = {
    "custom_instructions": "Custom instructions",
    "memory": "Memory note",
    "memory_snapshot": "Memory snapshot",
    "project_document": "Project document",
    "project_instructions": "Project instructions",
    "system_instructions": "System instructions",
}
# The kinds that instruct the model: a conversation's own system prompt.
INSTRUCTION_KINDS = frozenset(
    {"custom_instructions", "project_instructions", "system_instructions"}
)


def context_label(kind: str) -> str:
    """The English label of a context record's kind (an unknown kind, made readable)."""
    return CONTEXT_KINDS.get(kind) or kind.replace("_", " ").strip().capitalize() or "Context"


@pickled_by_fields
@dataclass(slots=True)
class Conversation:
    """A whole conversation: every branch, plus the raw JSON it came from.

    ``older_raw`` holds earlier raw versions to keep as well (a freehold export carries them);
    ``gone_upstream_at`` is restored from a freehold export and otherwise None (seen upstream).
    ``salvaged`` marks one whose messages could not be read (kept with its head and raw JSON
    only): it never replaces a copy the archive holds (``Archive.add_conversation``).
    ``parser_version`` names the importer that made it (``chatgpt/2``, set by the planner):
    a newer one re-reads a conversation stored by an older one from the same raw JSON.
    ``source_updated_at`` is the platform's own update time where ``updated_at`` is not it:
    a freehold export says it apart, since turns written there (``freehold chat``) moved
    ``updated_at`` on; None: ``updated_at`` is the platform's (every other importer).
    """

    source_kind: str
    source_id: str
    title: str | None
    messages: list[Message]
    raw: bytes
    created_at: float | None = None
    updated_at: float | None = None
    current_leaf: str | None = None
    model: str | None = None
    account_id: str | None = None
    project: str | None = None
    archived: bool = False
    starred: bool = False
    context: list[ContextRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    id: str | None = None
    gone_upstream_at: str | None = None
    older_raw: list[bytes] = field(default_factory=list)
    salvaged: bool = False
    parser_version: str | None = None
    source_updated_at: float | None = None

    @property
    def message_count(self) -> int:
        """Every message kept but a message's earlier versions (``thread_counts``)."""
        return self._counts().messages

    @property
    def branch_count(self) -> int:
        """How many branches the conversation has (``thread_counts``): 1 when it never forks."""
        return self._counts().branches

    def _counts(self) -> ThreadCounts:
        ids = {m.source_id: m.source_id for m in self.messages}
        parents = {m.source_id: m.parent_source_id for m in self.messages}
        return thread_counts(ids, parents, self.current_leaf)

    def own_context(self) -> list[ContextRecord]:
        """The context records no message of the thread carries, to be shown above it.

        The one rule every reader (``show``, the Markdown, HTML and PDF exports) follows: a
        record a message carries (ChatGPT's custom instructions and memory arrive as message
        parts, AI Studio's system instructions as a system message) is shown with that message,
        once; the rest (Open WebUI's ``params.system``, LibreChat's ``promptPrefix``, Claude's
        project instructions) are the conversation's own and shown apart.
        """
        carried = {m.source_id for m in self.messages}
        return [
            record
            for record in self.context
            if record.text.strip() and record.message_source_id not in carried
        ]


@dataclass(slots=True)
class SourceFile:
    """An account-level file of an export kept raw (``user.json``, feedback, settings)."""

    name: str
    raw: bytes


@dataclass(slots=True)
class Problem:
    """Something in an export that could not be read; ``lost`` when data was skipped.

    ``skipped`` counts the conversations this problem cost (0 when unknown or none).
    """

    where: str
    what: str
    lost: bool = True
    skipped: int = 0


@dataclass(slots=True)
class ExportInfo:
    """What the importer learnt about the export as a whole; yielded first."""

    kind: str
    account_id: str | None = None
    full_export: bool = False
    files: list[tuple[str, int]] = field(default_factory=list)
    expected_conversations: int | None = None


Record = Conversation | SourceFile | Problem | ExportInfo | ContextRecord


def _same(text: str) -> str:
    return text


_Node = TypeVar("_Node", bound=Hashable)  # a message's source id, or its id in the archive


def count_branches(parents: Mapping[_Node, _Node | None], leaf: _Node | None) -> int:
    """The one definition of a conversation's branch count, from each message's parent and
    the current leaf: one branch per leaf (a message nothing follows), and one more when the
    visible path stops at a message that has followers. 1 for a conversation without a fork,
    0 without messages: the number of paths ``tree.branch_paths`` gives, what ``show``, the
    web app and every export say, and ``conversations.branch_count`` stores."""
    followed = {parent for parent in parents.values() if parent is not None}
    return len(parents) - len(followed & parents.keys()) + (leaf in followed)


class ThreadCounts(NamedTuple):
    """A conversation's message and branch counts (``thread_counts``)."""

    messages: int
    branches: int


def thread_counts(
    ids: Mapping[str, _Node], parents: Mapping[_Node, _Node | None], leaf: _Node | None
) -> ThreadCounts:
    """The one definition of a conversation's message and branch counts, from each message's
    node by its source id (``ids``), each node's parent and the current leaf. Every message
    kept counts (every branch, hidden ones, turns written here) but a revision of a message
    that is there (``revision_of``: an earlier version of that message, neither a message of
    its own nor a branch, as ``tree.reading_paths`` reads it); branches are ``count_branches``
    over the messages counted. What the import and ``freehold chat`` store
    (``conversations.message_count``, ``branch_count``, m015 recounts), and so what ``stats``,
    the web list, the CSV and the Markdown/HTML index say."""
    revisions = {node for source, node in ids.items() if revision_of(source) in ids}
    counted = {node: parent for node, parent in parents.items() if node not in revisions}
    return ThreadCounts(len(counted), count_branches(counted, leaf))


def without_citation_marks(text: str) -> str:
    """A text part's text as ChatGPT shows it, the one rule for every reader (``show``, search,
    the exports): citation markers of every era taken out (their sources are listed apart,
    ``Message.sources``), an entity marker shown as its label (``\ue200entity\ue202["restaurant",
    "Chez Janou","Paris"]\ue201`` → ``Chez Janou``)."""
    if "【" in text:
        text = _OLD_MARK.sub("", text)
    if "\ue200" in text:
        text = _NEW_MARK.sub(_shown_mark, text)
    return text


def _shown_mark(match: re.Match[str]) -> str:
    return entity_label(match["data"]) if match["kind"] == "entity" else ""


def citation_marks(text: str) -> list[tuple[re.Match[str], str | None]]:
    """Every marker in ``text`` in order, each with its kind: ``None`` for a 2023 one, else the
    2025 kind (``cite``, ``entity``, …). What ``without_citation_marks`` takes out or names."""
    found: list[tuple[re.Match[str], str | None]] = []
    if "【" in text:
        found += ((match, None) for match in _OLD_MARK.finditer(text))
    if "\ue200" in text:
        found += ((match, match["kind"]) for match in _NEW_MARK.finditer(text))
    return sorted(found, key=lambda pair: pair[0].start())


def entity_label(data: str | None) -> str:
    """The name an entity marker shows: the second item of its JSON array (type, name,
    disambiguation); nothing when it says none."""
    try:
        entity = json.loads(data or "")
    except ValueError:
        return ""
    name = entity[1] if isinstance(entity, list) and len(entity) > 1 else None
    return name if isinstance(name, str) else ""
