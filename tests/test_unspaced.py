"""Finding and showing words of scripts written without spaces (``freehold/_unspaced.py``);
the searches themselves are tested on a real archive in tests/test_archive.py."""

from __future__ import annotations

import sqlite3
import unicodedata
from contextlib import closing

from hypothesis import given
from hypothesis import strategies as st

from freehold._unspaced import (
    _EXTENSIONS,
    _RANGES,
    SEPARATOR,
    WIDTH,
    _blocks,
    _glue,
    _letters,
    find,
    glued,
    like,
    needle,
    unspaced,
    window,
)

TOKENIZER = "porter unicode61 remove_diacritics 2"  # messages_fts's and messages_glued_fts's


def test_which_words_are_looked_for_as_substrings() -> None:
    for word in ("東京", "ラーメン", "中文", "서울", "ภาษาไทย", "ພາສາລາວ", "ភាសាខ្មែរ", "Tokyo東京"):
        assert unspaced(word), word
    for word in ("tokyo", "café", "Москва", "القاهرة", "ー", "、", "123"):
        assert not unspaced(word), word


def test_a_needle_drops_punctuation_at_its_ends_and_keeps_it_inside() -> None:
    assert needle("「東京」") == "東京"
    assert needle("東京、大阪。") == "東京、大阪"
    assert needle("東京  \n ラーメン") == "東京 ラーメン"
    assert like("100%_東京\\") == "%100\\%\\_東京\\\\%"


def test_find_matches_ascii_letters_in_any_case_only() -> None:
    text = "Python で東京、PYTHON で東京"
    assert find(text, ["python で"]) == [(0, 8), (11, 19)]
    assert find("ÉCOLE東京 école東京", ["école東京"]) == [(8, 15)]


def test_the_window_moves_to_the_marks_and_cuts_between_words() -> None:
    text = "word " * 40 + "Python in 東京 is fine " + "more " * 40
    start = text.index("Python")
    shown, marks = window(text, [(start, start + 6), *find(text, ["東京"])])
    assert shown.startswith("…word ") and shown.endswith(" more…")  # no word cut in half
    assert [shown[a:b] for a, b in marks] == ["Python", "東京"]
    cjk = "あ" * 300 + "京都" + "い" * 300
    shown, marks = window(cjk, find(cjk, ["京都"]))
    assert len(shown) == WIDTH + 2 and [shown[a:b] for a, b in marks] == ["京都"]


@given(
    text=st.text(alphabet="ab 東京。\n", max_size=400),
    words=st.lists(st.sampled_from(["東京", "a", "b 東", "。"]), min_size=1, max_size=3),
)
def test_every_mark_shown_is_a_found_word(text: str, words: list[str]) -> None:
    shown, marks = window(text, find(text, words))
    assert len(shown) <= WIDTH + 2
    body = shown.removeprefix("…").removesuffix("…")
    assert body in text
    for a, b in marks:
        assert any(word in shown[a:b] or shown[a:b] in word for word in words)


def test_glued_words_are_those_written_against_such_letters() -> None:
    assert glued("新しいiPhoneを買った") == "iPhone"
    assert glued("2024年3月") == f"2024 {SEPARATOR} 3"
    assert glued("我用Python编程") == glued("Python编程") == "Python"
    assert glued("GPT-4oを使って") == "GPT-4o"  # punctuation inside a word stays with it
    assert glued("ラーメンramen") == "ramen"  # ー is a kana letter here
    assert glued("iPhoneを買った。iPhoneが欲しい") == "iPhone"  # once, trimmed
    assert glued("cafe\u0301中") == "cafe\u0301"  # the index keeps the diacritic: one token
    for apart in ("「iPhone」を", "東京 iPhone", "東京。iPhone", "English — “quoted”", "plain"):
        assert glued(apart) == "", apart
    assert glued("man\u0303ana 東京") == ""  # the tilde is Thai's too, never a split here


def test_the_blocks_prefilter_holds_every_letter_that_glues() -> None:
    import regex

    letters = f"(?V1){_letters()}"
    every = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000)
    missed = {ord(m[0]) for m in regex.finditer(letters, every) if not _blocks().match(m[0])}
    assert missed and all(c > 0xFFFF for c in missed)  # only those left out
    # and the standard library's pattern written from them says what ``regex`` says
    found = regex.compile(letters)
    for first, last in [*_RANGES, _EXTENSIONS]:
        for char in map(chr, range(first, last + 1)):
            if unicodedata.category(char) != "Cn":  # unassigned: between the CJK extensions
                assert (_glue().match(char) is None) == bool(found.match(char)), hex(ord(char))


def _tokens(db: sqlite3.Connection, text: str) -> set[str]:
    db.execute("DELETE FROM t")
    db.execute("INSERT INTO t(rowid, text) VALUES (1, ?)", (text,))
    return {row[0] for row in db.execute("SELECT term FROM v")} - {SEPARATOR}


@given(st.text(alphabet="ab1 -.東京ーをé\u0301\u0e49ท", max_size=40))
def test_glued_words_are_the_words_the_index_hides(text: str) -> None:
    """Beside the index's tokens, the glued words find every word the letters of such scripts
    bound (as if they were spaces), and nothing else."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
        import regex

        letters = f"(?V1){_letters()}"

        words = _tokens(db, regex.sub(letters, " ", text))
        index, side = _tokens(db, text), _tokens(db, glued(text))
        assert words <= index | side
        assert side <= words
