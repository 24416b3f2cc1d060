"""The streaming array reader: values, exact raw slices, chunk boundaries, truncation, depth."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freehold import jsonstream
from freehold.jsonstream import Element, JsonStreamError, iter_elements

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_OBJECTS = st.lists(st.dictionaries(st.text(max_size=8), _VALUES, max_size=5), max_size=6)
_LAYOUTS = st.sampled_from(
    [
        {},
        {"separators": (",", ":")},
        {"indent": 2},
        {"indent": 2, "sort_keys": True},
        {"indent": "\t", "ensure_ascii": False},
        {"ensure_ascii": False},
        {"separators": (" ,  ", " : "), "ensure_ascii": False},
    ]
)


class Trickle:
    """A byte stream that returns at most ``step`` bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, n: int = -1) -> bytes:
        return self._data.read(self._step if n < 0 else min(n, self._step))


def read_all(data: bytes, step: int | None = None) -> list[jsonstream.Element]:
    stream: Any = io.BytesIO(data) if step is None else Trickle(data, step)
    return list(iter_elements(stream))


def assert_exact_slices(text: str, elements: list[jsonstream.Element]) -> None:
    """Each raw is the element's exact source text; only whitespace and commas lie between."""
    cursor = text.index("[") + 1
    for element in elements:
        raw_text = element.raw.decode("utf-8")
        assert text[element.offset : element.offset + len(raw_text)] == raw_text
        assert text[cursor : element.offset].strip() in ("", ",")
        cursor = element.offset + len(raw_text)
    assert text[cursor:].strip() == "]"


@settings(max_examples=80, deadline=None)
@given(_OBJECTS, _LAYOUTS)
def test_values_and_raw_slices_match_the_input(objects: list[Any], layout: dict[str, Any]) -> None:
    text = json.dumps(objects, **layout)
    elements = read_all(text.encode("utf-8"))
    assert [e.value for e in elements] == json.loads(text)
    assert [e.index for e in elements] == list(range(len(objects)))
    assert all(e.problems == [] for e in elements)
    assert_exact_slices(text, elements)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_OBJECTS, _LAYOUTS, st.integers(1, 9))
def test_tiny_chunks_force_growth(
    monkeypatch: pytest.MonkeyPatch, objects: list[Any], layout: dict[str, Any], step: int
) -> None:
    # _CHUNK drives growth and buffer dropping; the trickle stream makes every read short,
    # since fill()'s default read size is bound when the module is imported.
    monkeypatch.setattr(jsonstream, "_CHUNK", 7)
    text = json.dumps(objects, **layout)
    elements = read_all(text.encode("utf-8"), step)
    assert [e.value for e in elements] == json.loads(text)
    assert_exact_slices(text, elements)


_DOC = json.dumps(
    [{"a": 1, "b": [True, None, "x"]}, {"t": "één ü"}, {"n": -12.5e3, "s": 'q"\\'}],
    ensure_ascii=False,
)


@pytest.mark.parametrize("cut", range(len(_DOC.encode("utf-8"))))
def test_every_truncation_yields_a_prefix_then_raises(cut: int) -> None:
    whole = [e.value for e in read_all(_DOC.encode("utf-8"))]
    got: list[Any] = []
    with pytest.raises(JsonStreamError) as caught:
        for element in iter_elements(io.BytesIO(_DOC.encode("utf-8")[:cut])):
            got.append(element.value)
    assert got == whole[: len(got)]
    assert caught.value.elements == len(got)


def test_the_complete_document_raises_nothing() -> None:
    assert [e.value for e in read_all(_DOC.encode("utf-8"))] == json.loads(_DOC)


def test_a_single_top_level_object_is_one_element() -> None:
    data = b'  {"id": "x", "mapping": {}}  '
    (element,) = read_all(data)
    assert element.value == {"id": "x", "mapping": {}}
    assert element.raw == b'{"id": "x", "mapping": {}}'


def test_utf8_bom_is_skipped_and_raw_excludes_it() -> None:
    (element,) = read_all(b'\xef\xbb\xbf[{"a": "\xc3\xa9"}]')
    assert element.value == {"a": "é"}
    assert element.raw == b'{"a": "\xc3\xa9"}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'"just a string"', "not a JSON array"),
        (b"[{}} ]", "expected ','"),
    ],
)
def test_not_an_array_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(JsonStreamError, match=message):
        read_all(data)


def test_invalid_utf8_is_repaired_flagged_and_raw_keeps_the_bytes() -> None:
    data = b'[{"t": "ok"}, {"t": "bad \xff\xfe here"}, {"t": "fine"}]'
    elements = read_all(data)
    assert elements[0].problems == [] and elements[2].problems == []
    assert elements[1].value == {"t": "bad \ufffd\ufffd here"}
    assert elements[1].raw == b'{"t": "bad \xff\xfe here"}'
    assert "repaired" in elements[1].problems[0]


def test_lone_surrogate_escape_is_repaired_and_raw_is_verbatim() -> None:
    data = b'[{"t": "x\\ud800y", "u": "\\ud83d\\ude00"}]'
    (element,) = read_all(data)
    assert element.value == {"t": "x\ufffdy", "u": "\U0001f600"}
    assert element.raw == data[1:-1]
    assert element.problems


@pytest.mark.parametrize("depth", [jsonstream.MAX_DEPTH + 1, 600, 100_000])
def test_too_deep_element_is_skipped_and_the_next_one_read(depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    data = b'[{"a": 1}, {"deep": ' + deep + b'}, {"b": 2}]'
    elements = read_all(data)
    assert [e.value for e in elements] == [{"a": 1}, None, {"b": 2}]
    assert "deeper than" in elements[1].problems[0]
    assert elements[1].raw == b'{"deep": ' + deep + b"}"


def test_exactly_max_depth_is_accepted() -> None:
    depth = jsonstream.MAX_DEPTH - 1  # the element object itself is one level
    data = b'[{"d": ' + b"[" * depth + b"]" * depth + b"}]"
    (element,) = read_all(data)
    assert element.value is not None and element.problems == []


def test_nan_and_duplicate_keys_are_tolerated() -> None:
    (element,) = read_all(b'[{"x": NaN, "k": 1, "k": 2, "y": Infinity}]')
    assert element.value["k"] == 2
    assert element.value["x"] != element.value["x"]
    assert element.value["y"] == float("inf")


def test_number_element_across_a_chunk_boundary() -> None:
    # A plain BytesIO: the first fill() reads exactly 4 MiB, cutting the number after '12'.
    first_read = 1 << 22
    data = b"[" + b" " * (first_read - 3) + b"12345, 6]"
    assert [e.value for e in read_all(data)] == [12345, 6]


@pytest.mark.parametrize(("data", "step"), [(b"[123, 1]", 3), (b"[-5, 10]", 2), (b"[7, 89]", 6)])
def test_integers_cut_by_short_reads(data: bytes, step: int) -> None:
    assert [e.value for e in read_all(data, step)] == json.loads(data)


@pytest.mark.parametrize("number", [b"123.5", b"12e5", b"12E+5"])
def test_float_cut_after_its_point_or_exponent(number: bytes) -> None:
    cut = number.index(number.lstrip(b"0123456789")[:1]) + 1  # just past '.', 'e' or 'E'
    first_read = 1 << 22
    data = b"[" + b" " * (first_read - 1 - cut) + number + b", 6]"
    assert [e.value for e in read_all(data)] == [json.loads(number), 6]


def _nested(depth: int, innermost: object) -> object:
    value = innermost
    for level in range(depth - (0 if innermost == 0 else 1)):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("innermost", [0, [], {}], ids=["scalar", "empty-list", "empty-dict"])
def test_quick_guard_draws_the_line_exactly_at_max_depth(innermost: object) -> None:
    # The quick test (orjson's own nesting limit) must pass every element the exact walk
    # passes, and nothing deeper: at MAX_DEPTH containers it says clean, one more it does not.
    guard = jsonstream._Guard(jsonstream.MAX_DEPTH)
    at_limit = _nested(jsonstream.MAX_DEPTH, innermost)
    past_limit = _nested(jsonstream.MAX_DEPTH + 1, innermost)
    assert not jsonstream._too_deep(at_limit, jsonstream.MAX_DEPTH)
    assert jsonstream._too_deep(past_limit, jsonstream.MAX_DEPTH)
    assert guard.clean(at_limit)
    assert not guard.clean(past_limit)


@pytest.mark.parametrize(
    "value",
    [{"t": "x\ud800y"}, {"k\udcff": 1}, [["\udc80"]]],
    ids=["lone-in-value", "lone-in-key", "bad-byte"],
)
def test_quick_guard_refuses_lone_surrogates(value: object) -> None:
    assert not jsonstream._Guard(jsonstream.MAX_DEPTH).clean(value)


def test_integer_past_64_bits_takes_the_exact_path_and_is_kept() -> None:
    (element,) = read_all(b'[{"n": 123456789012345678901234567890}]')
    assert element.value == {"n": 123456789012345678901234567890}
    assert element.problems == []


@pytest.mark.parametrize("step", [None, 1000])
def test_an_integer_too_long_for_python_skips_that_element_only(step: int | None) -> None:
    huge = b"9" * 5000
    data = b'[{"a": 1}, {"n": ' + huge + b', "s": "[{"}, ' + huge + b', {"b": 2}]'
    elements = read_all(data, step) if step else read_all(data)
    assert [e.value for e in elements] == [{"a": 1}, None, None, {"b": 2}]
    assert elements[1].raw == b'{"n": ' + huge + b', "s": "[{"}'
    assert elements[2].raw == huge
    assert all("too long to read" in e.problems[0] for e in elements[1:3])


# -- the byte reader (``_Fast``) against the exact reader ------------------------------------

_WIDE_SCALARS = (
    _SCALARS
    | st.integers(-(2**70), 2**70)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
    | st.sampled_from(["}, {", '}, {"title": 1', "\\", '"', "é€😀"])
)
_WIDE_VALUES = st.recursive(
    _WIDE_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.builds(lambda rest: {"title": 0, **rest}, st.dictionaries(st.text(max_size=4), inner))
    ),
    max_leaves=12,
)
# Conversations as exports hold them: objects that all begin with the same key.
_CONVERSATIONS = st.lists(
    st.builds(
        lambda title, rest: {"title": title, **rest},
        _WIDE_VALUES,
        st.dictionaries(st.text(max_size=8), _WIDE_VALUES, max_size=4),
    ),
    max_size=6,
)


def _outcome(read: Any) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """What a reader yields (everything an element carries) and how it stops."""
    got: list[tuple[Any, ...]] = []
    try:
        for e in read:
            got.append((e.index, e.offset, e.raw, e.problems, repr(e.value)))
    except JsonStreamError as error:
        return got, (str(error), error.offset, error.elements)
    return got, None


def _exact(data: bytes, step: int | None = None) -> Any:
    stream: Any = io.BytesIO(data) if step is None else Trickle(data, step)
    guard = jsonstream._Guard(jsonstream.MAX_DEPTH)
    return jsonstream._text_elements(jsonstream._Buffer(stream), guard)


@settings(max_examples=150, deadline=None)
@given(_CONVERSATIONS, _LAYOUTS, st.sampled_from([None, 1, 5, 64]))
def test_shared_first_key_arrays_read_as_the_exact_reader_reads_them(
    objects: list[Any], layout: dict[str, Any], step: int | None
) -> None:
    text = json.dumps(objects, **layout)
    data = text.encode("utf-8")
    elements = read_all(data, step)
    assert [e.value for e in elements] == json.loads(text)
    assert all(e.problems == [] for e in elements)
    assert_exact_slices(text, elements)
    stream: Any = io.BytesIO(data) if step is None else Trickle(data, step)
    assert _outcome(iter_elements(stream)) == _outcome(_exact(data, step))


@settings(max_examples=300, deadline=None)
@given(_CONVERSATIONS, _LAYOUTS, st.data())
def test_damaged_documents_end_as_the_exact_reader_ends_them(
    objects: list[Any], layout: dict[str, Any], data: st.DataObject
) -> None:
    # Cut short, a byte changed (bad UTF-8, a quote, a bracket), or bytes inserted: the byte
    # reader yields the same elements and raises the same error, at the same place.
    whole = json.dumps(objects, **layout).encode("utf-8")
    damage = data.draw(st.sampled_from(["cut", "byte", "insert"]))
    at = data.draw(st.integers(0, len(whole)))
    if damage == "cut":
        doc = whole[:at]
    else:
        junk = data.draw(st.sampled_from([b"\xff", b'"', b"}", b"]", b",", b"{", b"\\", b"\xc3"]))
        doc = whole[:at] + junk + whole[at + (damage == "byte") :]
    assert _outcome(iter_elements(io.BytesIO(doc))) == _outcome(_exact(doc))


def test_the_first_key_inside_an_element_is_not_taken_for_the_next_one() -> None:
    inner = {"title": "nested", "n": 1}
    objects = [
        {"title": "a", "items": [{"x": 1}, inner, inner], "text": '}, {"title": "x"'},
        {"title": "b", "deep": {"list": [inner, {"title": 2}]}},
        {"title": "c"},
    ]
    data = json.dumps(objects).encode()
    assert b'}, {"title":' in data[: data.index(b'{"title": "b"')]
    assert [e.value for e in read_all(data)] == objects


def test_an_odd_element_among_shared_key_ones_is_read_exactly_and_the_rest_follow() -> None:
    data = (
        b'[{"title": 1}, {"title": "x\\ud800y"}, {"title": "\xff"}, {"title": NaN}, '
        b'{"title": 123456789012345678901234567890}, {"title": '
        + b"[" * jsonstream.MAX_DEPTH
        + b"]" * jsonstream.MAX_DEPTH
        + b'}, {"title": 7}]'
    )
    elements = read_all(data)
    assert [e.index for e in elements] == list(range(7))
    assert elements[0].value == {"title": 1}
    assert elements[1].value == {"title": "x\ufffdy"} and elements[1].problems
    assert elements[2].value == {"title": "\ufffd"} and elements[2].problems
    assert elements[3].value["title"] != elements[3].value["title"]  # NaN, as the stdlib reads it
    assert elements[4].value == {"title": 123456789012345678901234567890}
    assert elements[5].value is None and "deeper than" in elements[5].problems[0]
    assert elements[6].value == {"title": 7} and elements[6].problems == []
    assert _outcome(iter(elements)) == _outcome(_exact(data))


@pytest.mark.parametrize("blank", [b"", b" ", b"\n\n", b" \t"])
def test_an_empty_or_blank_file_is_empty_at_its_start(blank: bytes) -> None:
    with pytest.raises(JsonStreamError) as caught:
        read_all(blank)
    assert (str(caught.value), caught.value.offset) == ("the file is empty", 0)
    assert _outcome(iter_elements(io.BytesIO(blank))) == _outcome(_exact(blank))


def test_when_the_first_key_stops_coming_the_exact_reader_reads_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The byte reader never holds much more than its span ahead, and after a few misses in a
    # row it hands the whole rest over once instead of searching the stream element by element.
    monkeypatch.setattr(jsonstream, "_SPAN", 4096)
    monkeypatch.setattr(jsonstream, "_CHUNK", 512)
    held: list[int] = []
    handed: list[int] = []
    real_fill, real_rest = jsonstream._Fast.fill, jsonstream._Fast.exact_rest

    def fill(self: jsonstream._Fast, at_least: int) -> bool:
        more = real_fill(self, at_least)
        held.append(len(self.data) - self.pos)
        return more

    def exact_rest(self: jsonstream._Fast, index: int, **how: bool) -> Iterator[Element]:
        handed.append(index)
        return real_rest(self, index, **how)

    monkeypatch.setattr(jsonstream._Fast, "fill", fill)
    monkeypatch.setattr(jsonstream._Fast, "exact_rest", exact_rest)
    titled = [{"title": n} for n in range(50)]
    others = [{"b": n} for n in range(20_000)]
    data = json.dumps(titled + others).encode()
    elements = read_all(data)
    assert [e.value for e in elements] == titled + others
    assert handed == [50 + jsonstream._IN_A_ROW - 1]
    assert max(held) <= 2 * 4096 + 512
    assert _outcome(iter(elements)) == _outcome(_exact(data))
