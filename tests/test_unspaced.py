"""Finding and showing words of scripts written without spaces (``freehold/_unspaced.py``);
the searches themselves are tested on a real archive in tests/test_archive.py."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from freehold._unspaced import WIDTH, find, like, needle, unspaced, window


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
