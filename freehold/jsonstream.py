"""Read a JSON array one element at a time, in flat memory, keeping each element's raw text.

Exports hold one big array (``conversations.json``, up to GBs on one line). Two readers share
the work. The byte reader (``_Fast``) takes the usual case, an array of objects that all begin
with the same key: it finds where the next element begins with ``bytes.find`` and decodes the
bytes before it with msgspec, which only accepts a slice that is exactly one whole element; the
slice is the raw copy as it is. Everything else, and any element the byte reader cannot vouch
for, goes to the exact reader: it decodes the bytes incrementally and hands each element to the
standard library's C decoder (``JSONDecoder.raw_decode``), which also tells where the element
ends, so the exact source text of every element is kept as its raw copy. Both yield the same
elements and raise the same errors at the same places (tested on damaged documents; one
exception: an element past 1 GiB is refused once a buffer that doubles passes the limit, so
one of 1–3 GiB may be refused by one path and read by the other). Only the element being read
is in memory (the byte reader looks at most ``_SPAN`` ahead); the buffer grows geometrically
while an element is incomplete, so a large element costs linear time.

Why not ijson's item builder: its event prefixes grow with depth, and a 100,000-deep element
exhausts memory (measured, docs/decisions.md). Here depth is bounded twice: the C decoder
raises ``RecursionError`` long before memory grows, and every parsed element is rejected past
``MAX_DEPTH`` (a clean element is vouched for by one ``orjson.dumps``, see ``_Guard``; any other
is walked). A bad element is yielded without a value (its raw text and what is wrong with it:
keeping that text is the caller's job) and the reader resynchronises on the next one; a syntax
error or a truncation ends the file with a precise report of what was lost.

Invalid UTF-8 is decoded with ``surrogateescape`` so the raw copy keeps the original bytes;
strings with lone surrogates (from bad bytes or from ``\\udXXX`` escapes) are repaired to U+FFFD
in the parsed value and the element is flagged.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import msgspec
import orjson

from freehold._words import plural

__all__ = ["MAX_DEPTH", "Element", "JsonStreamError", "iter_elements"]

MAX_DEPTH = 128
_CHUNK = 1 << 20
_MAX_ELEMENT_CHARS = 1 << 30
_NEAR_END = 32
_WS = " \t\r\n"
_DECODER = json.JSONDecoder()
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    r"|\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_NUMBER = re.compile(r"-?[0-9][0-9.eE+-]*")

_bad_bytes = [0]


def _flag_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    _bad_bytes[0] += 1
    replacement, resume = codecs.lookup_error("surrogateescape")(error)
    return str(replacement), resume


codecs.register_error("freehold-flag", _flag_bad_bytes)


class JsonStreamError(Exception):
    """The stream cannot be read further; ``offset`` is the character where it broke."""

    def __init__(self, message: str, offset: int, elements: int) -> None:
        super().__init__(message)
        self.offset = offset
        self.elements = elements


@dataclass(slots=True)
class Element:
    """One array element: parsed ``value`` (None when skipped), raw text, and its problems."""

    index: int
    offset: int
    value: Any
    raw: bytes
    problems: list[str]


class _Buffer:
    """Decoded text with an absolute offset, refilled from the byte stream on demand."""

    def __init__(self, stream: IO[bytes] | _Joined) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="freehold-flag")
        self.text = ""
        self.base = 0
        self.eof = False
        self.dirty: list[tuple[int, int]] = []

    def fill(self, at_least: int = _CHUNK) -> bool:
        if self.eof:
            return False
        data = self.stream.read(at_least)
        before = _bad_bytes[0]
        start = self.base + len(self.text)
        chunk = self.decoder.decode(data, final=not data)
        if self.base == 0 and not self.text and chunk.startswith("\ufeff"):
            chunk = chunk[1:]
            self.base = 1
            start = 1
        self.text += chunk
        if _bad_bytes[0] != before:
            self.dirty.append((start, start + len(chunk)))
        self.eof = not data
        return True

    def drop(self, pos: int) -> int:
        if pos > _CHUNK:
            self.text = self.text[pos:]
            self.base += pos
            return 0
        return pos

    def is_dirty(self, start: int, end: int) -> bool:
        return any(a < self.base + end and self.base + start < b for a, b in self.dirty)


def _skip_ws(buf: _Buffer, pos: int) -> int:
    while True:
        text = buf.text
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        if pos < len(text) or not buf.fill():
            return pos


def iter_elements(stream: IO[bytes], *, max_depth: int = MAX_DEPTH) -> Iterator[Element]:
    """Yield the elements of a top-level JSON array, or the one top-level object.

    Raises ``JsonStreamError`` when the stream breaks (after yielding what came before).
    """
    yield from _Fast(stream, _Guard(max_depth)).elements()


def _text_elements(buf: _Buffer, guard: _Guard) -> Iterator[Element]:
    """The exact reader, from the start of the document in ``buf``."""
    pos = _skip_ws(buf, 0)
    if pos >= len(buf.text):
        raise JsonStreamError("the file is empty", buf.base, 0)
    if buf.text[pos] == "{":
        yield from _one_object(buf, pos, guard)
        return
    if buf.text[pos] != "[":
        raise JsonStreamError("not a JSON array or object", buf.base + pos, 0)
    pos = _skip_ws(buf, pos + 1)
    if pos < len(buf.text) and buf.text[pos] == "]":
        return
    yield from _array(buf, pos, guard)


def _one_object(buf: _Buffer, pos: int, guard: _Guard) -> Iterator[Element]:
    element = _read_element(buf, pos, 0, guard)
    if element is None:
        raise JsonStreamError("truncated JSON object", buf.base + pos, 0)
    yield element[0]


def _array(
    buf: _Buffer, pos: int, guard: _Guard, index: int = 0, *, after: bool = False
) -> Iterator[Element]:
    """Elements from the one starting at ``pos`` (number ``index``) to the array's end; with
    ``after``, ``pos`` is where the separator after element ``index - 1`` is awaited."""
    while True:
        if not after:
            if pos >= len(buf.text):
                raise JsonStreamError("truncated: the array never closes", buf.base + pos, index)
            result = _read_element(buf, pos, index, guard)
            if result is None:
                message = "truncated in the middle of an element"
                raise JsonStreamError(message, buf.base + pos, index)
            element, pos = result
            yield element
            index += 1
            pos = buf.drop(pos)
        after = False
        pos = _skip_ws(buf, pos)
        if pos >= len(buf.text):
            raise JsonStreamError("truncated: the array never closes", buf.base + pos, index)
        sep = buf.text[pos]
        if sep == "]":
            return
        if sep != ",":
            raise JsonStreamError(f"expected ',' or ']' but found {sep!r}", buf.base + pos, index)
        pos = _skip_ws(buf, pos + 1)


def _read_element(buf: _Buffer, pos: int, index: int, guard: _Guard) -> tuple[Element, int] | None:
    """Decode one element at ``pos``; None when the stream ends inside it."""
    while True:
        try:
            value, end = _DECODER.raw_decode(buf.text, pos)
        except RecursionError:
            problem = f"nests deeper than {guard.max_depth} levels"
            return _skip(buf, pos, index, problem)
        except json.JSONDecodeError as error:
            if _needs_more(buf, error) and _grow(buf, pos):
                continue
            if buf.eof and _cut_short(buf.text, error):
                return None
            message = f"malformed JSON: {error.msg}"
            raise JsonStreamError(message, buf.base + error.pos, index) from None
        except ValueError:  # int(): Python refuses integers of more than 4,300 digits
            problem = "holds an integer too long to read (over 4,300 digits)"
            return _skip(buf, pos, index, problem)
        if end >= len(buf.text) - 2 and type(value) in (int, float) and _grow(buf, pos):
            continue  # a number at the buffer's end ("12", "12.", "12e+") may go on
        return _finish(buf, pos, end, index, value, guard), end


def _needs_more(buf: _Buffer, error: json.JSONDecodeError) -> bool:
    return error.pos >= len(buf.text) - _NEAR_END or error.msg.startswith("Unterminated string")


def _cut_short(text: str, error: json.JSONDecodeError) -> bool:
    """At end of file: did the text end inside the element (truncation) rather than break it?"""
    tail = text[error.pos :].strip()
    if error.msg.startswith("Unterminated string") or not tail:
        return True
    return any(word.startswith(tail) for word in ("true", "false", "null"))


def _grow(buf: _Buffer, pos: int) -> bool:
    pending = len(buf.text) - pos
    if pending > _MAX_ELEMENT_CHARS:
        raise JsonStreamError("an element is larger than 1 GiB", buf.base + pos, 0)
    return buf.fill(max(_CHUNK, pending))


def _finish(buf: _Buffer, start: int, end: int, index: int, value: Any, guard: _Guard) -> Element:
    raw_text = buf.text[start:end]
    raw = raw_text.encode("utf-8", "surrogateescape")
    if guard.clean(value):
        return Element(index, buf.base + start, value, raw, [])
    problems: list[str] = []
    if type(value) in (dict, list) and _too_deep(value, guard.max_depth):
        problems.append(f"nests deeper than {guard.max_depth} levels")
        return Element(index, buf.base + start, None, raw, problems)
    if buf.is_dirty(start, end) or _lone_surrogate_escape(raw_text):
        value, repaired = _repair(value)
        if repaired:
            problems.append(
                f"{plural(repaired, 'string')} with invalid UTF-8 or lone surrogates repaired"
            )
    return Element(index, buf.base + start, value, raw, problems)


class _Guard:
    """The quick test most elements pass: ``orjson.dumps`` of the element inside enough
    wrapping lists that orjson's own nesting limit falls just past ``max_depth``.

    When it succeeds the element is no deeper than ``max_depth`` and holds no lone surrogate
    (orjson refuses both: lone halves from ``\\udXXX`` escapes and from undecodable bytes),
    so the two walks below are not needed: 4x cheaper than the depth walk alone, measured
    (docs/performance.md). When it fails, for any reason (an integer past 64 bits too), the
    exact checks decide.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.holder: list[Any] | None = None
        self.slot: list[Any] = [None]
        wrappers = _DUMPS_DEPTH - max_depth - 1  # the slot is a list too
        if _DUMPS_DEPTH and wrappers >= 0:
            self.holder = self.slot
            for _ in range(wrappers):
                self.holder = [self.holder]

    def clean(self, value: Any) -> bool:
        if self.holder is None or type(value) not in (dict, list):
            return False
        self.slot[0] = value
        try:
            orjson.dumps(self.holder)
        except orjson.JSONEncodeError:
            return False
        finally:
            self.slot[0] = None
        return True


def _dumps_limit(deepest: Any) -> int:
    """The most containers ``orjson.dumps`` accepts nested around ``deepest``; 0 if it accepts
    all up to 4,096 (then the quick test is not used)."""

    def nest(depth: int) -> Any:
        value = deepest
        for level in range(depth):
            value = [value] if level % 2 else {"k": value}
        return value

    low, high = 0, 4097
    while high - low > 1:
        middle = (low + high) // 2
        try:
            orjson.dumps(nest(middle))
        except orjson.JSONEncodeError:
            high = middle
        else:
            low = middle
    return 0 if low == 4096 else low


# The largest limit over the shapes an element can end in: a scalar and an empty container
# (orjson may write "[]" without counting a level). A value accepted inside ``limit - depth``
# wrapping lists is then no deeper than ``depth`` whatever its shape.
_DUMPS_DEPTH = max(_dumps_limit(0), _dumps_limit([]) + 1, _dumps_limit({}) + 1)


def _lone_surrogate_escape(raw_text: str) -> bool:
    """A ``\\udXXX`` escape that is not half of a pair (pairs are how ensure_ascii writes
    emoji, so they are common and fine): a match of 6 characters is a lone half."""
    if "\\ud" not in raw_text and "\\uD" not in raw_text:
        return False
    return any(len(m.group()) == 6 for m in _SURROGATE_ESCAPE.finditer(raw_text))


def _skip(buf: _Buffer, pos: int, index: int, problem: str) -> tuple[Element, int] | None:
    """Find the end of an element the decoder cannot take (too deep, a number too long) by
    bracket counting, and keep it raw; None when the stream ends first."""
    if buf.text[pos] not in "[{":
        return _skip_number(buf, pos, index, problem)
    depth = 0
    scan = pos
    while True:
        for match in _TOKEN.finditer(buf.text, scan):
            token = match.group()
            if token[0] == '"':
                if match.end() == len(buf.text) and not buf.eof:
                    scan = match.start()
                    break
                continue
            depth += 1 if token in "[{" else -1
            if depth == 0:
                end = match.end()
                raw = buf.text[pos:end].encode("utf-8", "surrogateescape")
                return Element(index, buf.base + pos, None, raw, [problem]), end
        else:
            scan = len(buf.text)
        if not _grow(buf, pos):
            return None


def _skip_number(buf: _Buffer, pos: int, index: int, problem: str) -> tuple[Element, int] | None:
    """A bare number as the element itself (``[1, 99…9]``)."""
    while True:
        match = _NUMBER.match(buf.text, pos)
        if match is None:
            raise JsonStreamError("malformed JSON: expected a value", buf.base + pos, index)
        if match.end() < len(buf.text) or buf.eof:
            raw = match.group().encode()
            return Element(index, buf.base + pos, None, raw, [problem]), match.end()
        if not _grow(buf, pos):
            return None


def _too_deep(value: Any, limit: int) -> bool:
    """Breadth-first, one level at a time: list comprehensions keep this cheap."""
    level = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        deeper: list[Any] = []
        extend = deeper.extend
        for item in level:
            children = item.values() if type(item) is dict else item
            extend([c for c in children if type(c) is dict or type(c) is list])
        level = deeper
        depth += 1
    return False


def _repair(value: Any) -> tuple[Any, int]:
    """Replace lone surrogates with U+FFFD everywhere; returns the new value and a count."""
    count = 0

    def fix(item: Any) -> Any:
        nonlocal count
        if type(item) is str:
            if _SURROGATE.search(item):
                count += 1
                return _SURROGATE.sub("\ufffd", item)
            return item
        if type(item) is dict:
            return {fix(k): fix(v) for k, v in item.items()}
        if type(item) is list:
            return [fix(v) for v in item]
        return item

    return fix(value), count


# -- the byte reader -----------------------------------------------------------------------

_DECODE = msgspec.json.Decoder().decode
_WS_BYTES = frozenset(_WS.encode())
_FIRST_KEY = re.compile(rb'\{[ \t\r\n]*"[^"\\]{1,200}"[ \t\r\n]*:')
_TRIES = 3  # slices tried per element before the exact reader takes it
_SPAN = 4 << 20  # how far the byte reader looks for the next element; past it, read exactly
_PIECE = 1 << 16  # what the exact reader decodes first when it takes one element
_IN_A_ROW = 4  # elements missed in a row after which the rest of the stream is read exactly
_GIVE_UP = 16  # ... or more misses than this, if they are over an eighth of the elements


class _Joined:
    """``data`` from ``start``, then the rest of ``stream``, in pieces of the size asked for:
    what the exact reader reads when it takes over from the byte reader."""

    def __init__(self, data: bytes, start: int, stream: IO[bytes], eof: bool) -> None:
        self.data = data
        self.start = start
        self.at = start
        self.stream = stream
        self.eof = eof
        self.more: list[bytes] = []

    def read(self, size: int = -1) -> bytes:
        if self.at < len(self.data):
            end = len(self.data) if size < 0 else self.at + max(size, 1)
            piece = self.data[self.at : end]
            self.at += len(piece)
            return piece
        if self.eof:
            return b""
        piece = self.stream.read(size)
        self.eof = not piece
        if piece:
            self.more.append(piece)
        return piece

    def after(self, consumed: int) -> tuple[bytes, int]:
        """What follows the first ``consumed`` bytes handed out: a buffer and a position."""
        at = self.start + consumed
        if not self.more:
            return self.data, at
        more = b"".join(self.more)
        if at >= len(self.data):
            return more[at - len(self.data) :], 0
        return self.data[at:] + more, 0


class _Fast:
    """The usual export, read from its bytes: an array of objects that all begin with the
    same key (``{"title":``). The next element's start is found with ``bytes.find`` and the
    slice before it decoded by msgspec, twice the C decoder's speed, with no text decoded and
    no raw copy encoded again. A slice that decodes is exactly one element (an object's prefix
    that ends before the object does is not valid JSON); ``_Guard`` then vouches for its depth.
    Any other slice (the key met inside an element, bad UTF-8, a lone surrogate, NaN, deeper
    than ``max_depth``, an integer past 64 bits), an element bigger than ``_SPAN``, or one not
    followed by the key, is read by the exact reader from the same bytes, which then hands the
    stream back; when the key stops coming, the exact reader reads the rest."""

    def __init__(self, stream: IO[bytes], guard: _Guard) -> None:
        self.stream = stream
        self.guard = guard
        self.data = b""
        self.pos = 0
        self.chars = 0  # the character offset of data[pos]
        self.eof = False

    def fill(self, at_least: int) -> bool:
        """More bytes after ``data[pos:]`` (which becomes ``data``); False at the end."""
        if self.eof:
            return False
        more = self.stream.read(at_least)
        if not more:
            self.eof = True
            return False
        self.data = self.data[self.pos :] + more
        self.pos = 0
        return True

    def skip_ws(self) -> bool:
        """Move ``pos`` past whitespace; False when the stream ends first."""
        while True:
            data, pos = self.data, self.pos
            while pos < len(data) and data[pos] in _WS_BYTES:
                pos += 1
            self.chars += pos - self.pos
            self.pos = pos
            if pos < len(data):
                return True
            if not self.fill(_CHUNK):
                return False

    def elements(self) -> Iterator[Element]:
        self.fill(_CHUNK)
        if self.data.startswith(b"\xef"):  # a BOM: the exact reader reads it all
            yield from self.exact_document()
            return
        if not self.skip_ws():
            raise JsonStreamError("the file is empty", 0, 0)
        if self.data[self.pos] != ord("["):
            yield from self.exact_document()
            return
        self.pos += 1
        self.chars += 1
        if not self.skip_ws():
            yield from self.exact_rest(0, after=False)
            return
        if self.data[self.pos] == ord("]"):
            return
        found = _FIRST_KEY.match(self.data, self.pos)
        if found is None:
            yield from self.exact_rest(0, after=False)
            return
        marker = found.group()
        index = misses = in_a_row = 0
        while True:
            element = self.next(marker, index)
            if element is None:
                misses += 1
                in_a_row += 1
                element = self.exact_one(index)
            else:
                in_a_row = 0
            yield element
            index += 1
            if in_a_row >= _IN_A_ROW or (misses > _GIVE_UP and misses * 8 > index):
                yield from self.exact_rest(index, after=True)
                return
            if not self.skip_ws():
                yield from self.exact_rest(index, after=True)
                return
            sep = self.data[self.pos]
            if sep == ord("]"):
                return
            if sep != ord(","):
                yield from self.exact_rest(index, after=True)
                return
            self.pos += 1
            self.chars += 1
            if not self.skip_ws():  # the exact reader says what the end of the stream cut
                yield from self.exact_rest(index, after=False)
                return

    def next(self, marker: bytes, index: int) -> Element | None:
        """The element at ``pos`` if the byte reader can take it (``pos`` then after it)."""
        data, pos = self.data, self.pos
        if data[pos] != 0x7B:  # "{"
            return None
        scan, tries = pos + 1, 0
        while True:
            at = data.find(marker, scan)
            if at < 0:
                if self.eof:
                    return self.last(index)
                if len(data) - pos > _SPAN:
                    return None
                scan = max(scan, len(data) - len(marker) + 1) - pos
                if not self.fill(max(_CHUNK, len(data) - pos)):
                    return self.last(index)
                data, pos = self.data, 0
                continue
            end = at - 1
            while data[end] in _WS_BYTES:
                end -= 1
            if data[end] == 0x2C:  # ","
                end -= 1
                while data[end] in _WS_BYTES:
                    end -= 1
                if data[end] == 0x7D and end > pos:  # "}"
                    element = self.take(pos, end + 1, index)
                    if element is not None:
                        return element
                    tries += 1
                    if tries >= _TRIES:
                        return None
            scan = at + 1

    def last(self, index: int) -> Element | None:
        """The last element: what lies before the closing bracket at the end of the stream."""
        data, pos = self.data, self.pos
        if len(data) - pos > _SPAN:
            return None
        end = len(data)
        while end > pos and data[end - 1] in _WS_BYTES:
            end -= 1
        if end - 1 <= pos or data[end - 1] != 0x5D:  # "]"
            return None
        end -= 1
        while data[end - 1] in _WS_BYTES:
            end -= 1
        return self.take(pos, end, index)

    def take(self, start: int, end: int, index: int) -> Element | None:
        """``data[start:end]`` as element ``index`` if it decodes; ``pos`` then at ``end``."""
        raw = self.data[start:end]
        try:
            value = _DECODE(raw)
        except (msgspec.DecodeError, RecursionError):
            return None
        if not self.guard.clean(value):
            return None
        element = Element(index, self.chars, value, raw, [])
        self.chars += len(raw) if raw.isascii() else len(raw.decode("utf-8"))
        self.pos = end
        return element

    def exact_one(self, index: int) -> Element:
        """Element ``index``, at ``pos``, read by the exact reader; ``pos`` then after it."""
        buf, joined = self.handed_over()
        buf.fill(_PIECE)
        start = _skip_ws(buf, 0)
        result = _read_element(buf, start, index, self.guard)
        if result is None:
            message = "truncated in the middle of an element"
            raise JsonStreamError(message, self.chars + start, index)
        element, end = result
        self.data, self.pos = joined.after(start + len(element.raw))  # blanks: one byte each
        self.chars += end
        self.eof = joined.eof
        return element

    def exact_document(self) -> Iterator[Element]:
        """The whole document, from ``pos`` (nothing but blanks before it), by the exact
        reader: a BOM, a top-level object, anything but an array."""
        yield from _text_elements(self.handed_over()[0], self.guard)

    def exact_rest(self, index: int, *, after: bool) -> Iterator[Element]:
        """The rest of the array, from ``pos``, by the exact reader: at the separator after
        element ``index - 1`` (``after``), or at element ``index``."""
        buf = self.handed_over()[0]
        yield from _array(buf, _skip_ws(buf, 0), self.guard, index, after=after)

    def handed_over(self) -> tuple[_Buffer, _Joined]:
        """The exact reader's buffer over what remains, from ``pos``, and what feeds it."""
        joined = _Joined(self.data, self.pos, self.stream, self.eof)
        buf = _Buffer(joined)
        buf.base = self.chars
        return buf, joined
