"""Gemini chat history from Google Takeout, "My Activity → Gemini Apps", JSON and HTML (§C).

The export is one JSON array, **newest first**, one record per activity: ``{header:"Gemini
Apps", title:"Prompted <prompt>", titleUrl?, time:<ISO>, products:["Gemini Apps"],
safeHtmlItem?:[{html:<answer>}], attachedFiles?:[names], audioFiles?:[names], imageFile?:<name>,
…}``. It is given as the file itself, or a Takeout folder or zip holding it (folder and file
names are localised, so any ``*.json`` array is taken when one of its first 50 records is a My
Activity record naming "Gemini Apps" in ``header`` or ``products``: a Takeout that mixes
products may open with others, and a record may lack its title). The HTML variant
(``MyActivity.html``, any localised ``*.html`` name) is read by ``_gemini_html`` into the same
records, then grouped and converted by the same code, so both variants give the same
conversations (``raw`` excepted: for HTML it is the blocks' own HTML as JSON strings). An HTML
date that is not understood leaves the record without a time and is reported (nothing lost); a
zone abbreviation that names several zones (IST, BST, CST) is read as Google's English default
means it and noted on the conversation, once.

Records of other Google products (``header:"Search"`` …) that a whole Takeout mixes in are
counted and reported as one problem that loses nothing (they are not Gemini chats).

Each record is one prompt and one answer. The prompt is the title without its localised prefix
(``Prompted ``, ``Live Prompt ``, ``Asked ``, French ``Prompt : ``; the whole title when none
matches). The answer is ``safeHtmlItem[].html``: its plain text (``html.parser``; ``<script>``
and ``<style>`` content dropped, block tags become line breaks) is the searchable text, and the
HTML is kept in the part as ``html`` — never rendered here. Records that say only "Used Gemini
Apps" keep the exchange in ``details`` instead: the ``Request`` entry's value is the prompt and
the ``Response`` entry's the answer (plain text). A record without an answer keeps its prompt and
flags the conversation: "no answer in the export", or "answer not understood" when the record
holds fields freehold does not read (they may hold it; they stay in ``raw``). ``attachedFiles``,
``audioFiles`` and ``imageFile`` names become ``takeout://<name>`` attachments (file, audio or
image parts), read when the file sits beside the JSON in the same folder or zip, otherwise
reported missing.

Grouping (JSON records carry no conversation): records sharing a chat link in ``titleUrl`` or a
subtitle URL form one conversation whose source id is that chat id, the link's last path segment
(``gemini.google.com/app/<id>``, ``/app/c/<id>``, a gem's ``/gem/<gem>/<id>``; the shapes beyond
the first are not seen in a real export yet, and the last segment is the one that differs
between chats). Otherwise, oldest first, consecutive records less than 30 minutes
apart form one conversation whose source id is ``gemini-`` + the ``time`` of its first record.
This is a heuristic: a later export with different neighbours (records deleted, or a new prompt
within 30 minutes of the last one) can regroup them, so re-import is keyed on the first
record's time only. Messages are linear; the title is the first prompt cut to 80 characters;
``raw`` is the group's original records (their exact bytes) joined as a JSON array.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from typing import IO, Any

from freehold._words import plural
from freehold.importers import _fields, _gemini_html
from freehold.importers._skeleton import READ_ERRORS, Claim, Export, Format, Kept
from freehold.jsonstream import JsonStreamError, iter_elements
from freehold.models import AttachmentRef, Conversation, Message, Part, Problem, Record
from freehold.tree import build_tree

__all__ = ["FORMAT", "KIND", "PARSER_VERSION", "detect", "html_text", "iter_conversations"]

KIND = "gemini"
PARSER_VERSION = "gemini/3"

PRODUCT = "Gemini Apps"
GAP_SECONDS = 30 * 60
_PEEK_RECORDS = 50
_TITLE_CHARS = 80
_PREFIX = re.compile(r"^(?:Prompted|Live Prompt|Asked|Prompt[ \u00a0\u202f]?:)[ \u00a0\u202f]+")
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"}
    | {"figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main"}
    | {"nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead", "tr", "ul"}
)
_HIDDEN = frozenset({"script", "style", "template", "noscript"})
_HTML = (".html", ".htm")
# The record fields read (or known to hold no part of the exchange); another one on a record
# without an answer may hold it, so such a record is said not understood, not answerless.
_KNOWN = frozenset(
    {"header", "title", "titleUrl", "time", "products", "activityControls", "safeHtmlItem"}
    | {"subtitles", "details", "attachedFiles", "audioFiles", "imageFile", "locationInfos"}
    | {"prompt"}
)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".heic", ".bmp")


class _Gemini(Format):
    kind = KIND
    version = PARSER_VERSION
    title = "Gemini"
    noun = "Gemini record"
    missing = (
        "no Gemini activity (a JSON array of My Activity records for "
        '"Gemini Apps", or its MyActivity.html) found — check the Takeout'
    )

    def accepts(self, name: str) -> bool:
        """Any JSON or HTML member (folder and file names are localised) with a My Activity
        record naming Gemini Apps among its first records; a lone member whatever its name."""
        lone = len(self.export.names()) == 1
        if not lone and not name.lower().endswith((".json", *_HTML)):
            return False
        if self._is_html(name):
            try:
                with self.export.open(name) as handle:
                    return _gemini_html.looks_like(handle)
            except READ_ERRORS:
                return False
        return self._leads_with_gemini(name)

    def claim(self) -> Claim:
        """The activity files, and the files beside them (attachments are read from there)."""
        members = [name for name in self.export.names() if self.accepts(name)]
        folders = {name.rpartition("/")[0] for name in members}
        owns = {n for n in self.export.names() if n.rpartition("/")[0] in folders}
        return Claim(members, owns if members else set())

    def _is_html(self, name: str) -> bool:
        return name.lower().endswith(_HTML) or self.export.start(name, 64)[:1] == b"<"

    def _leads_with_gemini(self, name: str) -> bool:
        """Whether an array file holds a Gemini activity record among its first records."""
        if self.export.start(name, 64)[:1] != b"[":
            return False
        try:
            with self.export.open(name) as handle:
                head = itertools.islice(iter_elements(handle), _PEEK_RECORDS)
                return any(_is_gemini_activity(element.value) for element in head)
        except (JsonStreamError, *READ_ERRORS):
            return False

    def read(self, name: str) -> Iterator[Record]:
        reader = self._read_html if self._is_html(name) else self._read_json
        items: list[_Item] = []
        others: list[int] = [0]
        broken = list(reader(name, items, others))
        beside = _beside(self.export, name)
        for group in _groups(items):
            raw = b"[" + b",".join(item.raw for item in group) + b"]"
            yield from self.guarded(name, group, raw, convert=partial(_conversation, beside=beside))
        if others[0]:
            ignored = f"{plural(others[0], 'record')} of other Google products ignored"
            yield Problem(name, ignored, lost=False)
        yield from broken

    def _read_json(self, name: str, items: list[_Item], others: list[int]) -> Iterator[Record]:
        try:
            with self.export.open(name) as handle:
                for element in iter_elements(handle):
                    where = f"{name}[{element.index}]"
                    if not isinstance(element.value, dict):
                        why = "; ".join(element.problems) or "not a JSON object"
                        file, kept = self.kept(where, element.raw)
                        yield file
                        yield Problem(where, f"record skipped ({why}; {kept}) — check the export")
                    elif not _is_ours(element.value):
                        others[0] += 1
                    else:
                        items.append(_item(element.value, element.raw, element.problems))
        except JsonStreamError as error:
            yield Problem(name, f"{error} at character {error.offset}: {_lost(len(items))}")
        except READ_ERRORS as error:
            yield Problem(name, f"cannot be read ({error}): {_lost(len(items))}")

    def _read_html(self, name: str, items: list[_Item], others: list[int]) -> Iterator[Problem]:
        """Whole-file read (Takeout writes ~5 MB; over 256 MB is refused), then block by block."""
        try:
            with self.export.open(name) as handle:
                data = handle.read(_gemini_html.MAX_BYTES + 1)
        except READ_ERRORS as error:
            yield Problem(name, f"cannot be read ({error}) — download the export again")
            return
        if len(data) > _gemini_html.MAX_BYTES:
            yield Problem(name, "over 256 MB: not read — split the Takeout export by date range")
            return
        undated: list[str] = []
        for found in _gemini_html.iter_records(data.decode("utf-8", "replace")):
            if not found.ours:
                others[0] += 1
                continue
            items.append(
                _item(found.value, found.raw, [found.zone_note] if found.zone_note else [])
            )
            if found.bad_date is not None:
                undated.append(found.bad_date)
        if undated:
            shown = ", ".join(repr(text) for text in list(dict.fromkeys(undated))[:3])
            records = plural(len(undated), "record")
            what = f"{records} kept without a time: date not understood ({shown})"
            yield Problem(name, what, lost=False)

    def identify(self, value: Any, raw: bytes) -> str | None:
        return _source_id(value)

    def read_again(self, raw: bytes, kept: Kept) -> Iterator[Record]:
        """A conversation's raw JSON is its group's records in order, each the JSON variant's
        object or the HTML variant's block (a JSON string): read back into the group, with
        each record's exact bytes (its time, else those bytes, are the messages' ids). Files
        beside the export are not at hand: their bytes are what the archive already holds."""
        where = f"{self.kind} conversation {kept.source_id}"
        group: list[_Item] = []
        try:
            for element in iter_elements(io.BytesIO(raw)):
                value = element.value
                if isinstance(value, str):
                    html = _gemini_html.record_of(value)
                    group.append(_item(html.value, element.raw, []))
                elif isinstance(value, dict):
                    group.append(_item(value, element.raw, element.problems))
        except JsonStreamError as error:
            yield Problem(
                where, f"its raw JSON cannot be parsed ({error}); left as it was", skipped=1
            )
            return
        convert = partial(_conversation, beside=_nothing_beside)
        yield from self.guarded(where, group, raw, convert=convert, source_id=kept.source_id)


FORMAT = _Gemini
detect = _Gemini.detect
iter_conversations = _Gemini.iter_conversations


def _is_gemini_activity(record: Any) -> bool:
    """A My Activity record (``header`` and ``time``; the title may be missing) of Gemini."""
    return isinstance(record, dict) and "header" in record and "time" in record and _is_ours(record)


def _is_ours(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    products = record.get("products")
    return record.get("header") == PRODUCT or (isinstance(products, list) and PRODUCT in products)


def _lost(count: int) -> str:
    return (
        f"{plural(count, 'Gemini record')} read before it; the rest of this file was not imported "
        "— download the export again"
    )


@dataclass(slots=True)
class _Item:
    """One Gemini record with its exact bytes, its time and its chat id."""

    value: dict[str, Any]
    raw: bytes
    when: float | None
    chat: str | None
    problems: list[str] = field(default_factory=list)


def _item(value: dict[str, Any], raw: bytes, problems: list[str]) -> _Item:
    when = _fields.iso_time(value.get("time"))  # noted when the record is converted
    return _Item(value, raw, when, _chat_id(value), list(problems))


def _chat_id(record: dict[str, Any]) -> str | None:
    urls = [record.get("titleUrl")]
    subtitles = record.get("subtitles")
    if isinstance(subtitles, list):
        urls += [s.get("url") for s in subtitles if isinstance(s, dict)]  # noted on conversion
    for url in urls:
        found = _gemini_html.chat_id(url) if isinstance(url, str) else None
        if found:
            return found
    return None


# -- grouping --------------------------------------------------------------------------------------


def _groups(items: list[_Item]) -> list[list[_Item]]:
    """Chat-link groups, and runs of unlinked records under 30 minutes apart (oldest first)."""
    timed = sorted((i for i in reversed(items) if i.when is not None), key=_when)
    groups: list[list[_Item]] = []
    by_chat: dict[str, list[_Item]] = {}
    previous: _Item | None = None
    for item in timed:
        if item.chat is not None:
            if item.chat not in by_chat:
                by_chat[item.chat] = []
                groups.append(by_chat[item.chat])
            by_chat[item.chat].append(item)
        elif _continues(previous, item):
            groups[-1].append(item)
        else:
            groups.append([item])
        previous = item
    return groups + [[item] for item in reversed(items) if item.when is None]


def _when(item: _Item) -> float:
    return item.when if item.when is not None else 0.0


def _continues(previous: _Item | None, item: _Item) -> bool:
    return (
        previous is not None
        and previous.chat is None
        and _when(item) - _when(previous) < GAP_SECONDS
    )


def _source_id(group: list[_Item]) -> str:
    first = group[0]
    if first.chat is not None:
        return first.chat
    when = first.value.get("time")
    if first.when is not None and isinstance(when, str):
        return "gemini-" + when
    return "gemini-" + hashlib.sha256(first.raw).hexdigest()[:32]


# -- conversations ---------------------------------------------------------------------------------


Opener = Callable[[str], Callable[[], IO[bytes]] | None]


def _beside(files: Export, name: str) -> Opener:
    """Openers for files in the JSON's own folder, read through the same open export."""
    folder = name.rpartition("/")[0]
    present = set(files.names()) - {name}

    def opener(file_name: str) -> Callable[[], IO[bytes]] | None:
        member = f"{folder}/{file_name}" if folder else file_name
        if "/" in file_name or member not in present:
            return None
        return partial(files.open, member)

    return opener


def _nothing_beside(file_name: str) -> None:
    return None


def _conversation(group: list[_Item], raw: bytes, *, beside: Opener) -> Conversation:
    messages: list[Message] = []
    problems: list[str] = []
    seen: set[str] = set()
    for item in group:
        problems += [problem for problem in item.problems if problem not in problems]
        messages += _exchange(item, _key(item, seen), beside, problems)
    for before, after in itertools.pairwise(messages):
        after.parent_source_id = before.source_id
    tree = build_tree(messages, messages[-1].source_id if messages else None)
    first_prompt = messages[0].text if messages else ""
    return Conversation(
        source_kind=KIND,
        source_id=_source_id(group),
        title=first_prompt[:_TITLE_CHARS] or None,
        messages=tree.messages,
        raw=raw,
        created_at=group[0].when,
        updated_at=group[-1].when,
        current_leaf=tree.leaf,
        problems=problems + tree.problems,
    )


def _key(item: _Item, seen: set[str]) -> str:
    when = item.value.get("time")
    base = when if isinstance(when, str) and when else hashlib.sha256(item.raw).hexdigest()[:16]
    key, count = base, 1
    while key in seen:
        count += 1
        key = f"{base}#{count}"
    seen.add(key)
    return key


def _exchange(item: _Item, key: str, beside: Opener, problems: list[str]) -> list[Message]:
    if item.when is None:
        _fields.when(item.value, "time")  # notes an odd one
    text = item.value.get("prompt")
    if not isinstance(text, str):
        title = _prompt(_fields.string(item.value, "title"))
        text = _detail(item.value, "Request") or title
    prompt = _message(key + "/prompt", "user", text, item.when)
    prompt.attachments, files = _attachments(item.value, beside)
    prompt.parts += files
    html = _answer_html(item.value)
    said = _detail(item.value, "Response")
    if html is not None:
        answer = _message(key + "/answer", "assistant", html_text(html), item.when)
        answer.parts[0]["html"] = html
    elif said is not None:
        answer = _message(key + "/answer", "assistant", said, item.when)
    else:
        problems.append(_no_answer(item.value, key))
        return [prompt]
    return [prompt, answer]


def _detail(record: dict[str, Any], name: str) -> str | None:
    """The value of the ``details`` entry named ``name`` (``Request``, ``Response``); other
    ``details`` (a note, text) are no part of the exchange and stay in ``raw`` unremarked."""
    details = record.get("details")
    for entry in details if isinstance(details, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return _fields.text(entry, "value")
    return None


def _no_answer(record: dict[str, Any], key: str) -> str:
    """Why a record gives no answer: none in the export, or fields that may hold it unread."""
    unread = sorted(name for name in record if name not in _KNOWN)
    if unread:
        kept = ", ".join(unread[:5])
        return f"record at {key}: answer not understood ({kept} kept in the raw JSON, not read)"
    return f"record at {key}: no answer in the export; the prompt is kept"


def _message(source_id: str, role: str, text: str, when: float | None) -> Message:
    return Message(
        source_id=source_id,
        parent_source_id=None,
        role=role,
        content_type="text",
        parts=[{"type": "text", "text": text}],
        text=text,
        created_at=when,
    )


def _prompt(title: str) -> str:
    return _PREFIX.sub("", title, count=1)


def _answer_html(record: dict[str, Any]) -> str | None:
    items = _fields.array(record, "safeHtmlItem")
    found = [html for item in items if (html := _fields.text(item, "html"))]
    return "\n".join(found) if found else None


def _attachments(record: dict[str, Any], beside: Opener) -> tuple[list[AttachmentRef], list[Part]]:
    """``attachedFiles``, ``audioFiles`` and ``imageFile``: one attachment and part per name."""
    names = _file_names(record, "attachedFiles")
    audio = _file_names(record, "audioFiles")
    image = _fields.text(record, "imageFile")
    refs: list[AttachmentRef] = []
    parts: list[Part] = []
    for name in dict.fromkeys([*names, *audio, *([image] if image else [])]):
        pointer = f"takeout://{name}"
        refs.append(AttachmentRef(pointer=pointer, name=name, opener=beside(name)))
        if name in audio:
            parts.append(_audio_part(pointer, name))
        else:
            parts.append(_file_part(pointer, name, is_image=name == image))
    return refs, parts


def _file_names(record: dict[str, Any], key: str) -> list[str]:
    listed = _fields.array(record, key)
    for odd in (n for n in listed if not isinstance(n, str)):
        _fields.odd(key, odd, "a file name")
    return [n for n in listed if isinstance(n, str) and n]


def _file_part(pointer: str, name: str, *, is_image: bool) -> Part:
    if is_image or name.lower().endswith(_IMAGE_SUFFIXES):
        return {"type": "image", "pointer": pointer, "name": name}
    return {"type": "file", "pointer": pointer, "name": name, "text": ""}


def _audio_part(pointer: str, name: str) -> Part:
    """The format is the name's suffix (``m4a``), as Takeout gives no other."""
    suffix = name.rpartition(".")[2].lower() if "." in name else None
    return {"type": "audio", "pointer": pointer, "name": name, "format": suffix}


# -- answer HTML → text ----------------------------------------------------------------------------


class _Text(HTMLParser):
    """Plain text of an HTML fragment: hidden elements dropped, block tags as line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = io.StringIO()
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.out.write("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.out.write("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.out.write("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.write(data)


def html_text(html: str) -> str:
    """The answer's plain text; the HTML itself is never rendered."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in parser.out.getvalue().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
