"""The sampler: N representative prompts out of many, the same N every time.

Pure: no archive, no clock, no process-wide randomness. Each candidate has a ``key`` (its
identity), a ``same`` key (its normalised text: two prompts typed alike are one prompt) and its
``strata``: one value per dimension (topic, length, language, with or without code).

1. Every candidate gets a rank, a hash of (seed, key): the order of the input never matters.
   Of prompts that are the same, the lowest rank stands for them all.
2. Pinned candidates go first, whatever N (pins are never dropped).
3. Coverage: for each dimension, each value not yet in the sample — commonest first, so that
   a small N covers what most prompts are — gets the candidate that brings the most values
   still missing (the lowest rank among equals).
4. The rest is proportional: the joint strata share the remaining places by the
   Sainte-Laguë rule (a stratum's priority is its size over 2 × its picks + 1), each taking
   its candidates in rank order.

No candidate is ever picked twice; fewer candidates than N gives them all.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Candidate", "rank", "sample"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A prompt as the sampler sees it."""

    key: str
    same: str
    strata: tuple[str, ...]


def rank(seed: int, key: str) -> bytes:
    """A candidate's place in the shuffled order for ``seed``."""
    return hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=16).digest()


def sample(
    candidates: Iterable[Candidate], size: int, *, pinned: Sequence[str] = (), seed: int = 0
) -> list[Candidate]:
    """``size`` representative candidates (pins first, then coverage, then proportional)."""
    pool = _unique(candidates, seed, set(pinned))
    by_key = {c.key: c for c in pool}
    chosen: list[Candidate] = []
    for key in dict.fromkeys(pinned):
        if key in by_key:
            chosen.append(by_key[key])
    taken = {c.key for c in chosen}
    rest = [c for c in pool if c.key not in taken]
    _cover(chosen, rest, size)
    _proportional(chosen, rest, pool, size)
    return chosen


def _unique(candidates: Iterable[Candidate], seed: int, pinned: set[str]) -> list[Candidate]:
    """One candidate per key and per text, in rank order (a pinned one stands for its text)."""
    best: dict[str, tuple[bool, bytes, Candidate]] = {}
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.key in seen:
            continue
        seen.add(candidate.key)
        order = (candidate.key not in pinned, rank(seed, candidate.key), candidate)
        held = best.get(candidate.same)
        if held is None or order[:2] < held[:2]:
            best[candidate.same] = order
    return [entry[2] for entry in sorted(best.values(), key=lambda e: e[1])]


def _cover(chosen: list[Candidate], rest: list[Candidate], size: int) -> None:
    """Add candidates until every value of every dimension is in, or ``size`` is reached."""
    if not rest:
        return
    dimensions = len(rest[0].strata)
    missing = _values(rest) - _values(chosen)
    counts = Counter(pair for c in rest for pair in enumerate(c.strata))
    for dimension in range(dimensions):
        wanted = sorted(
            (pair for pair in missing if pair[0] == dimension), key=lambda p: (-counts[p], p[1])
        )
        for pair in wanted:
            if len(chosen) >= size:
                return
            if pair not in missing:
                continue  # brought in by an earlier pick
            holders = [c for c in rest if c.strata[dimension] == pair[1]]
            pick = max(holders, key=lambda c: len(missing & set(enumerate(c.strata))))
            chosen.append(pick)
            rest.remove(pick)
            missing -= set(enumerate(pick.strata))


def _values(candidates: Iterable[Candidate]) -> set[tuple[int, str]]:
    return {pair for c in candidates for pair in enumerate(c.strata)}


def _proportional(
    chosen: list[Candidate], rest: list[Candidate], pool: list[Candidate], size: int
) -> None:
    sizes = Counter(c.strata for c in pool)
    picks = Counter(c.strata for c in chosen)
    queues: dict[tuple[str, ...], list[Candidate]] = defaultdict(list)
    for candidate in reversed(rest):  # reversed: pop() takes the lowest rank
        queues[candidate.strata].append(candidate)
    while len(chosen) < size and queues:
        stratum = min(queues, key=lambda s: (-sizes[s] / (2 * picks[s] + 1), s))
        chosen.append(queues[stratum].pop())
        picks[stratum] += 1
        if not queues[stratum]:
            del queues[stratum]
