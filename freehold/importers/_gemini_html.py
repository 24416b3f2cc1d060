"""The HTML variant of Takeout "My Activity → Gemini Apps" (``MyActivity.html``, §C).

The file is a large inlined stylesheet, then one ``div.outer-cell`` per activity, newest first::

    <div class="outer-cell …"><div class="mdl-grid">
      <div class="header-cell …"><p class="mdl-typography--title">Gemini Apps<br></p></div>
      <div class="content-cell … mdl-typography--body-1">Prompted&nbsp;<prompt><br>
        [Attached 1 file.<br>&emsp;-&nbsp;<a href="name.png">name.png</a><br>]
        <localised date and zone><br><answer HTML…></div>
      <div class="content-cell … mdl-typography--text-right"></div>
      <div class="content-cell … mdl-typography--caption"><b>Products:</b><br>&emsp;Gemini Apps<br>
        … <a href="https://gemini.google.com/app/<chat id>">…</a></div>
    </div></div>

Each block becomes the record the JSON variant has (``header``, ``title``, ``time`` as UTC ISO,
``products``, ``titleUrl`` for the chat link (as written), ``safeHtmlItem``, ``attachedFiles``) plus
``prompt`` (the title without its localised prefix, cut at the first no-break space), so the
JSON path groups and converts both alike. ``raw`` is the block's own HTML as a JSON string.

Reading: the whole file is read into memory (Takeout writes ~5 MB; files over 256 MB are
refused) and cut into blocks at each ``outer-cell`` opening; each block is parsed on its own
with ``html.parser``, so one malformed block cannot spill into the next.

Heuristics: the date line is the first ``<br>``-separated line of the content cell, after the
prompt, holding a ``h:mm:ss`` time and a four-digit year; lines before it are the prompt, except
lines with links to local files (attachments) and the notice line just before them. The chat
link is the last link outside the answer that ``chat_id`` reads. A block is Gemini when its
header contains "Gemini" (localised product names keep the word) or its caption names
"Gemini Apps". Localised dates: see ``parse_date``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import IO, Any

__all__ = [
    "AMBIGUOUS",
    "HEAD_BYTES",
    "MAX_BYTES",
    "HtmlRecord",
    "chat_id",
    "iter_records",
    "looks_like",
    "parse_date",
    "record_of",
    "zone_note",
]

PRODUCT = "Gemini Apps"
MAX_BYTES = 256 << 20
HEAD_BYTES = 256 << 10
_STYLE_SCAN = 8 << 20
_CHAT = re.compile(r"gemini\.google\.com/(app|gem/[^/?#\s]+)((?:/[^/?#\s]*)*)")
_CHAT_ID = re.compile(r"[0-9A-Za-z_-]+")
_OUTER = re.compile(r"<div\s[^>]*?class\s*=\s*[\"'][^\"']*\bouter-cell\b", re.IGNORECASE)
_TIME = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})")
_YEAR = re.compile(r"\b\d{4}\b")
_PREFIX = re.compile(r"^(?:Prompted|Live Prompt|Asked|Prompt[ \u00a0\u202f]?:)[ \u00a0\u202f]+")
_SPACES = re.compile(r"[ \t\r\n\u00a0\u202f\u2009]+")
_NEWLINE_RUN = re.compile(r"[ \t\r]*\n\s*")
_AM = ("AM", "A.M.", "오전", "午前", "上午")
_PM = ("PM", "P.M.", "오후", "午後", "下午")

#: Zone abbreviations as Takeout prints them, to UTC offsets in hours. Those that name more
#: than one zone (``AMBIGUOUS``) are read as the one Google's English default means, and the
#: record says so; ``GMT+1``/``UTC+01:00`` forms are parsed directly.
ZONES: dict[str, float] = {
    "UTC": 0, "GMT": 0, "UT": 0, "WET": 0, "WEZ": 0, "WEST": 1, "WESZ": 1, "BST": 1,
    "CET": 1, "MEZ": 1, "SEČ": 1, "CEST": 2, "MESZ": 2, "SELČ": 2,
    "EET": 2, "OEZ": 2, "EEST": 3, "OESZ": 3, "MSK": 3, "IST": 5.5,
    "SGT": 8, "HKT": 8, "KST": 9, "JST": 9, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
}  # fmt: skip
#: What an ambiguous abbreviation is read as, and what else it may mean.
AMBIGUOUS: dict[str, str] = {
    "IST": "India Standard Time (UTC+5:30), not Irish (UTC+1) or Israel (UTC+2) Standard Time",
    "BST": "British Summer Time (UTC+1), not Bangladesh Standard Time (UTC+6)",
    "CST": "US Central Standard Time (UTC-6), not China (UTC+8) or Cuba (UTC-5) Standard Time",
}
_OFFSET = re.compile(r"^(?:GMT|UTC)(?:([+\-\u2212])(\d{1,2})(?::?(\d{2}))?)?$")

_MONTH_NAMES = {
    1: "jan january janv janvier jän jänner januar ene enero",
    2: "feb february févr fevr février februar febrero",
    3: "mar march mars märz mär marzo",
    4: "apr april avr avril abr abril",
    5: "may mai mayo",
    6: "jun june juin juni junio",
    7: "jul july juil juillet juli julio",
    8: "aug august août aout ago agosto",
    9: "sep sept september septembre septiembre",
    10: "oct october octobre okt oktober octubre",
    11: "nov november novembre noviembre",
    12: "dec december déc décembre dez dezember dic diciembre",
}
MONTHS = {word: number for number, words in _MONTH_NAMES.items() for word in words.split()}


# -- dates -----------------------------------------------------------------------------------------


def parse_date(text: str) -> str | None:
    """A localised Takeout date line as UTC ISO (``2026-01-05T09:00:00Z``); None if not understood.

    Understood: a ``h:mm:ss`` time with AM/PM (English) or 오전/오후 (Korean) markers or 24-hour;
    a date with a month name and a day and four-digit year in either order (English "Jan 5,
    2026", French "5 janv. 2026", German "5. Jan. 2026"), or three numbers: day-month-year
    (German "05.01.2026", Czech "5. 1. 2026") or year-month-day when the year comes first
    (Korean "2026. 1. 5."); then a zone from ``ZONES`` or ``GMT±h[:mm]``. Slashed numeric dates
    (US month/day order is ambiguous) are not understood.
    """
    line = _SPACES.sub(" ", text).strip()
    clock = _TIME.search(line)
    if clock is None or "/" in line:
        return None
    hour, minute, second = (int(g) for g in clock.groups())
    before, after = line[: clock.start()], line[clock.end() :]
    words = after.replace(",", " ").split()
    meridiem = [w for w in words if w.upper() in _AM + _PM]
    meridiem += [w for w in before.split() if w in _AM + _PM]
    zone = [w for w in words if w not in meridiem]
    if len(zone) != 1 or len(meridiem) > 1 or hour > 23:
        return None
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem[0].upper() in _PM else 0)
    offset = _zone(zone[0])
    day = _day(before)
    if offset is None or day is None:
        return None
    try:
        local = datetime(*day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError:
        return None
    return local.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _zone(word: str) -> timedelta | None:
    if word.upper() in ZONES:
        return timedelta(hours=ZONES[word.upper()])
    found = _OFFSET.match(word.upper())
    if found is None:
        return None
    sign, hours, minutes = found.groups()
    delta = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    return -delta if sign in ("-", "\u2212") else delta


def _day(text: str) -> tuple[int, int, int] | None:
    numbers = re.findall(r"\d+", text)
    names = [w.lower().rstrip(".") for w in re.findall(r"[^\W\d_]+\.?", text)]
    months = [MONTHS[n] for n in names if n in MONTHS]
    if len(months) == 1 and len(numbers) == 2:
        years = [n for n in numbers if len(n) == 4]
        days = [n for n in numbers if len(n) <= 2]
        if len(years) == 1 and len(days) == 1:
            return int(years[0]), months[0], int(days[0])
        return None
    if months or len(numbers) != 3:
        return None
    if len(numbers[0]) == 4:
        year, month, day = numbers
    elif len(numbers[2]) == 4:
        day, month, year = numbers
    else:
        return None
    return int(year), int(month), int(day)


# -- chat links ------------------------------------------------------------------------------------


def chat_id(url: str) -> str | None:
    """The chat a Gemini link names: the last segment of its path after ``/app`` (``/app/<id>``,
    ``/app/c/<id>``) or after a gem's ``/gem/<gem>``; None for a link to no chat (``/app``, a gem
    itself) or a segment that is no id."""
    found = _CHAT.search(url)
    if found is None:
        return None
    segments = [segment for segment in found.group(2).split("/") if segment]
    last = segments[-1] if segments else ""
    return last if _CHAT_ID.fullmatch(last) else None


# -- detection -------------------------------------------------------------------------------------


def looks_like(handle: IO[bytes]) -> bool:
    """True when the first 256 KB after the stylesheet hold a Gemini outer-cell with a date."""
    head = handle.read(_STYLE_SCAN + HEAD_BYTES)
    start = head.lower().find(b"</style>")
    window = head[start + 8 if start >= 0 else 0 :][:HEAD_BYTES].decode("utf-8", "replace")
    found = _OUTER.search(window)
    if found is None:
        return False
    for block in _blocks(window[found.start() :]):
        parsed = _parse(block)
        if parsed.ours and (parsed.date_text or parsed.prompt_lines):
            return True
    return False


# -- records ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class HtmlRecord:
    """One outer-cell block as a JSON-variant record; ``bad_date``: a date not understood;
    ``zone_note``: how a date's ambiguous zone abbreviation was read."""

    value: dict[str, Any]
    raw: bytes
    ours: bool
    bad_date: str | None
    zone_note: str | None = None  # how an ambiguous zone abbreviation was read


def iter_records(text: str) -> Iterator[HtmlRecord]:
    """The file's blocks, in file order (newest first)."""
    found = _OUTER.search(text)
    if found is None:
        return
    for block in _blocks(text[found.start() :]):
        parsed = _parse(block)
        yield _record(parsed, block)


def record_of(block: str) -> HtmlRecord:
    """One block as a record again: what a conversation's raw JSON keeps of it."""
    return _record(_parse(block), block)


def _blocks(text: str) -> Iterator[str]:
    starts = [m.start() for m in _OUTER.finditer(text)] + [len(text)]
    for begin, end in itertools.pairwise(starts):
        yield text[begin:end]


def _record(parsed: _Parsed, block: str) -> HtmlRecord:
    title = "\n".join(parsed.prompt_lines)
    value: dict[str, Any] = {"header": parsed.header, "title": title, "prompt": _prompt(title)}
    parsed_date = parse_date(parsed.date_text) if parsed.date_text else None
    if parsed_date is not None:
        value["time"] = parsed_date
    value["products"] = [PRODUCT] if parsed.ours else []
    if parsed.chat is not None:
        value["titleUrl"] = parsed.chat
    if parsed.answer:
        value["safeHtmlItem"] = [{"html": parsed.answer}]
    if parsed.files:
        value["attachedFiles"] = list(dict.fromkeys(parsed.files))
    raw = json.dumps(block[: parsed.end], ensure_ascii=False).encode()
    bad = None
    if parsed_date is None:
        bad = parsed.date_text or "(no date line)"
    return HtmlRecord(
        value, raw, parsed.ours, bad, zone_note(parsed.date_text) if not bad else None
    )


def zone_note(date_text: str) -> str | None:
    """The note for a date line whose zone abbreviation names more than one zone, else None."""
    words = _SPACES.sub(" ", date_text).replace(",", " ").upper().split()
    found = next((word for word in words if word in AMBIGUOUS), None)
    if found is None:
        return None
    return f"time zone {found} is ambiguous: read as {AMBIGUOUS[found]} — check the times"


def _prompt(title: str) -> str:
    if _PREFIX.match(title):
        return _PREFIX.sub("", title, count=1)
    prefix, space, rest = title.partition("\u00a0")
    if space and len(prefix) <= 40 and len(prefix.split()) <= 3 and "\n" not in prefix:
        return rest.strip(" \t\r\n")
    return title


# -- one block -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Parsed:
    header: str = ""
    caption: str = ""
    prompt_lines: list[str] = field(default_factory=list)
    date_text: str = ""
    answer: str = ""
    chat: str | None = None  # the chat link
    files: list[str] = field(default_factory=list)
    end: int | None = None

    @property
    def ours(self) -> bool:
        return "Gemini" in self.header or PRODUCT in self.caption


def _parse(block: str) -> _Parsed:
    parser = _BlockParser(block)
    parser.feed(block)
    parser.close()
    return parser.finish()


def _local(ref: str | None) -> str | None:
    if not ref or ":" in ref or ref.startswith(("/", "#", "?")):
        return None
    return ref


class _BlockParser(HTMLParser):
    """Header, caption, the content cell's lines up to the date, and the answer's source span."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.roles: list[str | None] = []
        self.body_seen = False
        self.header: list[str] = []
        self.caption: list[str] = []
        self.lines: list[list[str]] = [[]]
        self.file_lines: set[int] = set()
        self.files: list[str] = []
        self.date_text = ""
        self.answer_start: int | None = None
        self.answer_end: int | None = None
        self.chats: list[str] = []
        self.end: int | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _role(self) -> str | None:
        return next((r for r in reversed(self.roles) if r is not None), None)

    def _pre_answer(self) -> bool:
        return self._role() == "body" and self.answer_start is None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "div" and self.end is None:
            self.roles.append(self._div_role(found.get("class") or ""))
        in_answer = self._role() == "body" and self.answer_start is not None
        if tag == "a" and not in_answer:
            href = found.get("href") or ""
            if chat_id(href):
                self.chats.append(href)
        if self._pre_answer():
            local = _local(found.get("href") if tag == "a" else found.get("src"))
            if tag in ("a", "img") and local:
                self.files.append(local)
                self.file_lines.add(len(self.lines) - 1)
            elif tag == "br":
                self._line_break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "div":
            self.handle_endtag(tag)

    def _div_role(self, classes: str) -> str | None:
        names = classes.split()
        if not self.roles:
            return "outer"
        if "header-cell" in names:
            return "header"
        if "content-cell" not in names:
            return None
        if "mdl-typography--caption" in names:
            return "caption"
        if "mdl-typography--text-right" in names or self.body_seen:
            return "side"
        self.body_seen = True
        return "body"

    def _line_break(self) -> None:
        line = self._clean("".join(self.lines[-1]))
        if not self.date_text and _is_date_line(line) and len(self.lines) > 1:
            self.date_text = line
            self.answer_start = self._offset() + len(self.get_starttag_text() or "<br>")
        else:
            self.lines.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag != "div" or not self.roles or self.end is not None:
            return
        role = self.roles.pop()
        if role == "body":
            self.answer_end = self._offset()
            if self.answer_start is None:
                self._line_break()
                if self.answer_start is not None:
                    self.answer_start = self.answer_end
        if not self.roles:
            close = self.text.find(">", self._offset())
            self.end = close + 1 if close >= 0 else len(self.text)

    def handle_data(self, data: str) -> None:
        role = self._role()
        if role == "header":
            self.header.append(data)
        elif role == "caption":
            self.caption.append(data)
        elif self._pre_answer():
            self.lines[-1].append(data)

    @staticmethod
    def _clean(line: str) -> str:
        return _NEWLINE_RUN.sub(" ", line).strip(" \t\r\n")

    def finish(self) -> _Parsed:
        lines = [self._clean("".join(parts)) for parts in self.lines]
        if self.answer_start is not None:
            lines = lines[:-1]  # the date line
        prompt = lines
        if self.file_lines:
            first = min(self.file_lines)
            prompt = lines[: first - 1] if first > 1 else lines[:first]  # less the notice line
        answer = ""
        if self.answer_start is not None and self.answer_end is not None:
            answer = self.text[self.answer_start : self.answer_end].strip(" \t\r\n")
        return _Parsed(
            header=self._clean("".join(self.header)),
            caption=self._clean(" ".join(self.caption)),
            prompt_lines=_trim(prompt),
            date_text=self.date_text,
            answer=answer,
            chat=self.chats[-1] if self.chats else None,
            files=self.files,
            end=self.end,
        )


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def _is_date_line(line: str) -> bool:
    return bool(_TIME.search(line) and _YEAR.search(line)) and len(line) < 80
