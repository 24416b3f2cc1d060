"""The sampler (freehold/rehearse/sample.py): deterministic, stratified, never twice."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from freehold.rehearse.sample import Candidate, sample

TOPICS = ["code", "cooking", "travel", "money", "health"]
LENGTHS = ["short", "medium", "long", "very long"]
LANGUAGES = ["en", "fr", "de", "ja"]
CODE = ["code", "prose"]


@st.composite
def pools(draw: st.DrawFn) -> list[Candidate]:
    """Candidates with repeated keys and repeated texts, as an archive has them."""
    count = draw(st.integers(0, 60))
    found = []
    strata_of: dict[str, tuple[str, ...]] = {}  # a text's strata follow from the text
    for n in range(count):
        same = f"t{draw(st.integers(0, max(1, count // 2)))}" if n % 3 else f"own{n}"
        strata = strata_of.setdefault(
            same,
            (
                draw(st.sampled_from(TOPICS)),
                draw(st.sampled_from(LENGTHS)),
                draw(st.sampled_from(LANGUAGES)),
                draw(st.sampled_from(CODE)),
            ),
        )
        found.append(Candidate(f"m{n}", same, strata))
    again = draw(st.lists(st.sampled_from(found), max_size=5)) if found else []
    return found + again  # and a record may come twice


def _first_by_key(pool: list[Candidate]) -> dict[str, Candidate]:
    found: dict[str, Candidate] = {}
    for c in pool:
        found.setdefault(c.key, c)
    return found


@settings(max_examples=100, deadline=None)
@given(pools(), st.integers(1, 40), st.integers(0, 3), st.randoms(use_true_random=False))
def test_the_same_prompts_whatever_the_order(
    pool: list[Candidate], size: int, seed: int, shuffle: random.Random
) -> None:
    unique = list(_first_by_key(pool).values())  # one record per key, as the archive gives
    first = sample(unique, size, seed=seed)
    again = list(unique)
    shuffle.shuffle(again)
    assert sample(again, size, seed=seed) == first


@settings(max_examples=100, deadline=None)
@given(pools(), st.integers(1, 40), st.integers(0, 3))
def test_never_a_prompt_twice_and_the_size_asked(
    pool: list[Candidate], size: int, seed: int
) -> None:
    picked = sample(pool, size, seed=seed)
    assert len({c.key for c in picked}) == len(picked)
    assert len({c.same for c in picked}) == len(picked)  # the same text typed twice: once
    distinct = len({c.same for c in _first_by_key(pool).values()})
    assert len(picked) == min(size, distinct)


@settings(max_examples=100, deadline=None)
@given(pools(), st.integers(0, 40), st.data())
def test_pins_always_go_first(pool: list[Candidate], size: int, data: st.DataObject) -> None:
    keys = sorted({c.key for c in pool})
    pins = data.draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)) if keys else []
    picked = sample(pool, size, pinned=pins)
    texts = {c.same for c in pool if c.key in pins}  # pins typed alike are one prompt
    assert [c.key for c in picked[: len(texts)]] == [
        k for k in pins if k in {c.key for c in picked}
    ]
    assert {c.same for c in picked[: len(texts)]} == texts
    assert len(picked) == max(len(texts), min(size, len({c.same for c in pool})))


@settings(max_examples=100, deadline=None)
@given(pools(), st.integers(0, 3))
def test_every_value_of_every_dimension_is_covered_when_there_is_room(
    pool: list[Candidate], seed: int
) -> None:
    values = {pair for c in pool for pair in enumerate(c.strata)}
    picked = sample(pool, len(values), seed=seed)
    assert {pair for c in picked for pair in enumerate(c.strata)} == values


def test_a_bigger_stratum_gets_more_places() -> None:
    """Past coverage the places follow the population: 80 % English prompts, ~80 % of picks."""
    pool = [
        Candidate(f"m{n}", f"t{n}", ("topic", "short", "en" if n % 5 else "fr", "prose"))
        for n in range(500)
    ]
    picked = sample(pool, 50)
    shares = Counter(c.strata[2] for c in picked)
    assert shares == {"en": 40, "fr": 10}


def test_another_seed_gives_other_prompts_but_keeps_the_spread() -> None:
    pool = [
        Candidate(f"m{n}", f"t{n}", (TOPICS[n % 5], LENGTHS[n % 4], "en", CODE[n % 2]))
        for n in range(400)
    ]
    one, two = sample(pool, 20, seed=1), sample(pool, 20, seed=2)
    assert {c.key for c in one} != {c.key for c in two}
    for picked in (one, two):
        assert {c.strata[0] for c in picked} == set(TOPICS)
        assert {c.strata[1] for c in picked} == set(LENGTHS)


_TOPICS_THEN_LOG = """
import logging
from freehold.embeddings import LexicalEmbedder
from freehold.rehearse.cases import Prompt, _topics
texts = ["rust lifetimes", "a trip to lyon", "green tea"]
prompts = [Prompt(n, "c", text, None) for n, text in enumerate(texts)]
_topics(prompts, LexicalEmbedder(), 2)
logging.getLogger("httpx").info("HTTP Request: POST http://user:pw@host/v1")
"""


def test_topics_with_the_lexical_embedder_leave_logging_as_it_was() -> None:
    # a fresh interpreter: wordllama configures the root logger when it is first imported
    done = subprocess.run(
        [sys.executable, "-c", _TOPICS_THEN_LOG], capture_output=True, text=True, check=True
    )
    assert done.stderr == ""
