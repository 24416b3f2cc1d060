"""Words in scripts written without spaces between words: how search finds them and shows them.

FTS5's ``unicode61`` tokenizer splits text at spaces and punctuation only, so a run of Chinese,
Japanese or Thai (or a Korean word with its particle, 서울에서) is one token: the index cannot
find 東京 inside 東京で美味しいラーメン屋. Python's sqlite3 cannot register a tokenizer of its
own, and a second (trigram) index would cost every import its size and time, so a search word
holding a letter of such a script is matched as a substring of the message text instead
(``LIKE``, ASCII letters in any case), and the rest of the query still goes through FTS5.

``needle`` turns such a word into the text looked for; ``find`` finds it in a message, and
``window`` cuts the snippet around the marks, since FTS5's own ``snippet()`` knows nothing of
these matches. Script detection uses the ``regex`` package's Unicode script property, imported
only when a search is not plain ASCII.

A word of another script written against such letters (新しいiPhoneを買った, 2024年3月,
我用Python编程) is hidden in the same way, and the search for it is an ordinary word: for it,
``glued`` lists the words of a message that touch such a letter inside one index token, which
the archive keeps in a small second index beside the first (``messages_glued_fts``). Most
messages are ASCII, and ``str.isascii`` answers for them; the others are tested first by a
standard-library pattern of the scripts' Unicode blocks (a few ns a character; the ``regex``
package's script test costs some 70). Only when one holds a letter of those blocks is ``regex``
imported, once, to write out the exact letters as another standard-library pattern, which
cuts the words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import regex

__all__ = ["SEPARATOR", "WIDTH", "find", "glued", "indexed", "like", "needle", "unspaced", "window"]

# The scripts whose words are not separated by spaces (Korean is, but its particles cling to
# the word they follow, which hides the word from the index in the same way).
_SCRIPTS = "Han Hiragana Katakana Bopomofo Hangul Yi Thai Lao Khmer Myanmar Tai_Tham New_Tai_Lue"
_SCRIPTS += " Tai_Viet Javanese Balinese"
WIDTH = 100  # characters of a snippet, about FTS5's 16 tokens of English
_LEAD = 24  # characters kept before the first mark
_SNAP = 12  # how far a cut moves to fall between two words
_MARKS = 64  # marks of one word looked at: a long text may hold thousands
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SPACES = re.compile(r"\s+")
# The Unicode blocks of those scripts' letters (a test checks they hold every one ``_letters``
# knows in the Basic Multilingual Plane): where no character of a text is in them, it holds no
# glued word. They are one bitmap to ``re``; each range above the BMP would be one more test
# of every character (the CJK extensions alone made English prose 1.8x as long to clear), so
# the letters there (the rare CJK extensions, hentaigana, counting rods), never met without a
# common one beside them, are left out of this first test; ``_glue`` still knows them.
_RANGES = (
    (0x0E00, 0x0EFF), (0x1000, 0x11FF), (0x1780, 0x17FF), (0x1980, 0x19DF), (0x1A20, 0x1AAF),
    (0x1B00, 0x1B7F), (0x3005, 0x303C), (0x3041, 0x31FF), (0x3220, 0x32FF), (0x3400, 0xA4CF),
    (0xA960, 0xAADF), (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFFDC),
)  # fmt: skip
_EXTENSIONS = (0x20000, 0x3FFFF)  # the CJK extensions: Han, or not yet assigned
# Between the glued words of one message: a private-use character the tokenizer indexes as a
# word of its own, so that no phrase spans two glued words that were apart in the text.
SEPARATOR = "\U0010fffd"


@cache
def _pattern() -> regex.Pattern[str]:
    import regex  # 20 ms to import: only a search with a non-ASCII word pays it

    return regex.compile("[" + "".join(rf"\p{{sc={name}}}" for name in _SCRIPTS.split()) + "]")


@cache
def _blocks() -> re.Pattern[str]:
    """``_RANGES`` as a character class (compiled on first use: 10 ms, no cost to start-up)."""
    return re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _RANGES) + "]")


def _letters() -> str:
    """The ``regex`` class of the letters that glue: the scripts' extensions (ー, the kana voiced
    marks), those the index keeps (a letter, number or mark), less those Latin, Greek or
    Cyrillic share (U+0303, the combining tilde of a decomposed ñ, is also Thai's)."""
    scripts = "".join(rf"\p{{scx={name}}}" for name in _SCRIPTS.split())
    shared = r"\p{scx=Latin}\p{scx=Greek}\p{scx=Cyrillic}"
    return rf"[[{scripts}]&&[\p{{L}}\p{{N}}\p{{M}}\p{{Co}}]--[{shared}]]"


@cache
def _glue() -> re.Pattern[str]:
    """Runs of characters that are neither white space nor a letter that glues, as a pattern
    of the standard library: the letters of ``_RANGES`` that ``regex`` finds, and the CJK
    extensions, are written out as ranges once (~20 ms), because ``regex``'s script test
    costs ~70 ns a character and a character class of ``re`` ~5: a Japanese archive reads all
    its text through it."""
    import regex

    found = regex.compile(f"(?V1){_letters()}+")
    runs = [_EXTENSIONS]
    for first, last in _RANGES:
        block = "".join(map(chr, range(first, last + 1)))
        runs += [(first + run.start(), first + run.end() - 1) for run in found.finditer(block)]
    return re.compile(r"[^\s" + "".join(f"{chr(a)}-{chr(b)}" for a, b in runs) + "]+")


def glued(text: str) -> str:
    """The words of ``text`` that touch a letter of a script written without spaces, with no
    space or punctuation between (``iPhone`` in 新しいiPhoneを買った, ``2024`` and ``3`` in
    2024年3月), each once, ``SEPARATOR`` between two; '' when it holds none.

    A word runs to the next space or such letter, punctuation inside it kept (``GPT-4o``を), so
    a search for the whole of it finds it as a phrase; the tokenizer splits it as it does the
    message. Where punctuation stands between the word and the letter (``「iPhone」を``), the
    index finds the word already and it is not listed.
    """
    if text.isascii() or _blocks().search(text) is None:
        return ""
    words: dict[str, None] = {}
    end_of_text = len(text)
    for run in _glue().finditer(text):
        start, end = run.span()
        before = start > 0 and not text[start - 1].isspace() and _joins(text[start])
        after = end < end_of_text and not text[end].isspace() and _joins(text[end - 1])
        if before or after:
            words[_trimmed(run[0])] = None
    return f" {SEPARATOR} ".join(words)


def _trimmed(word: str) -> str:
    """``word`` less the punctuation at its ends (。iPhone, written after a full stop, is the
    iPhone of another place)."""
    start, end = 0, len(word)
    while not _joins(word[start]):
        start += 1
    while not _joins(word[end - 1]):
        end -= 1
    return word[start:end]


def _joins(char: str) -> bool:
    """Whether ``char`` and a letter beside it are one token to the index (a mark too: the
    tokenizer keeps the diacritics it removes)."""
    category = unicodedata.category(char)
    return category[0] in "LNM" or category == "Co"


def unspaced(text: str) -> bool:
    """Whether ``text`` holds a letter of a script written without spaces."""
    return not text.isascii() and _pattern().search(text) is not None


def needle(text: str) -> str:
    """What a word (or phrase) is looked for as: punctuation at either end dropped (as the
    index drops it), runs of white space as one space."""
    text = _SPACES.sub(" ", text)
    start, end = 0, len(text)
    while start < end and not indexed(text[start]):
        start += 1
    while end > start and not indexed(text[end - 1]):
        end -= 1
    return text[start:end]


def indexed(char: str) -> bool:
    """Whether the tokenizer indexes ``char`` (unicode61: letters, numbers, private use)."""
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def like(word: str) -> str:
    """The ``LIKE … ESCAPE '\\'`` pattern for ``word`` anywhere in a text."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"


def find(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Where each needle occurs in ``text``, ASCII letters in any case (as ``LIKE`` matches);
    the first ``_MARKS`` of each, more than a snippet can show."""
    folded = text.translate(_ASCII_LOWER)
    found = []
    for word in needles:
        word = word.translate(_ASCII_LOWER)
        start, count = folded.find(word), 0
        while word and start >= 0 and count < _MARKS:
            found.append((start, start + len(word)))
            start, count = folded.find(word, start + len(word)), count + 1
    return found


def window(text: str, marks: Sequence[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """About ``WIDTH`` characters of ``text`` around the most distinct marked words, with the
    marks inside it (overlapping marks merged) and ``…`` where the text was cut."""
    merged = _merged(marks)
    start = max(0, _anchor(text, merged) - _LEAD)
    end = min(len(text), start + WIDTH)
    start = max(0, min(start, end - WIDTH))  # near the end: show more of what comes before
    first = next((a for a, _ in merged if a >= start), end)
    start, end = _between_words(text, start, end, first)
    head = "…" if start > 0 else ""
    shown = [
        (max(a, start) - start + len(head), min(b, end) - start + len(head))
        for a, b in merged
        if a < end and b > start
    ]
    return head + text[start:end] + ("…" if end < len(text) else ""), shown


def _merged(marks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _anchor(text: str, marks: list[tuple[int, int]]) -> int:
    """The start of the mark that begins the window holding the most distinct marked words
    (the first such one), as FTS5's snippet() picks its window."""
    best, anchor = 0, marks[0][0] if marks else 0
    for n, (start, _) in enumerate(marks[:_MARKS]):
        stop = max(start - _LEAD, 0) + WIDTH
        words = {text[a:b].lower() for a, b in marks[n : n + WIDTH] if b <= stop}
        if len(words) > best:
            best, anchor = len(words), start
    return anchor


def _between_words(text: str, start: int, end: int, first: int) -> tuple[int, int]:
    """Move each cut a few characters inwards to a space, where there is one (Latin text), so
    no word is cut in half; never past the first mark."""
    if start > 0 and not text[start - 1].isspace():
        space = text.find(" ", start, min(start + _SNAP, first))
        start = space + 1 if space >= 0 else start
    if end < len(text) and not text[end].isspace():
        space = text.rfind(" ", max(end - _SNAP, start), end)
        end = space if space > first else end
    return start, end
