"""Scores: how far each candidate's answers drift from the original ones, against its noise.

For each case and candidate (the first answer stands for the format; every repeat counts for
similarity):

- ``similarity``: cosine of the answer's embedding and the original's (the mean over the
  repeats); ``between``: the same between two candidates' first answers;
- ``self_similarity``: between a candidate's own repeats of the same prompt. Greedy decoding
  cannot be asked of every provider (FIELD-NOTES: current Claude models refuse a
  temperature), so a model's answers vary by themselves; its *noise* is 1 − its mean
  self-similarity over the run. ``drift`` is 1 − similarity, and ``beyond_noise`` is drift less
  the noise: above zero the answer is further from the original than the model is from itself;
- ``length_ratio``: the answer's characters over the original's;
- ``format``: whether code blocks, lists, headings and the language agree with the
  original's, and ``format_match``, the share that agree;
- ``refused``: the answer refuses where the original did not;
- ``asked`` and ``failed_answers``: how many answers were asked (the repeats) and how many
  failed (an error, or no text);
- latency, tokens and cost over the answers that came (a failed attempt's milliseconds are
  not an answer's latency, and its unknown tokens do not make the others' unknown): None
  when none came.

The case's ``score`` (0–100): 60 % meaning (similarity over the candidate's own
self-similarity, capped at 1: a model cannot be asked to be closer to the original than to
itself), 20 % format, 20 % length (the square root of the smaller ratio), times the share of
its answers that came: a failed answer scores 0, whether it is one repeat or all of them. A
new refusal scores 0. A case without an original answer (a pinned prompt that got none) has
no score. A candidate's score is the mean of its cases'; its ``failed`` counts the cases that
got no answer at all, ``failed_answers`` of ``asked`` every answer.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from freehold.embeddings import Embedder, cosine
from freehold.rehearse import text as _text
from freehold.rehearse.cases import Case
from freehold.rehearse.store import Reply, worst_first

__all__ = ["COMPARED_CHARS", "Scored", "score"]

COMPARED_CHARS = 8000

Answers = dict[tuple[int, str], list[Reply]]
Verdicts = dict[tuple[int, str], dict[str, Any]]


class Scored:
    """Every case's scores per candidate, the pairs, and each candidate's summary."""

    def __init__(self, cases: list[dict[str, Any]], candidates: list[dict[str, Any]]) -> None:
        self.cases = cases
        self.candidates = candidates


def score(
    cases: Sequence[Case],
    refs: Sequence[str],
    answers: Answers,
    embedder: Embedder,
    verdicts: Verdicts | None = None,
) -> Scored:
    vectors = _Vectors(embedder, cases, answers)
    rows: list[dict[str, Any]] = []
    for case in cases:
        per = {ref: _one(case, answers.get((case.position, ref), []), vectors) for ref in refs}
        rows.append(
            {**case.to_json(), "answers": per, "between": _between(case, refs, answers, vectors)}
        )
    noise = {ref: _noise(rows, ref) for ref in refs}
    for row in rows:
        for ref, result in row["answers"].items():
            _finish(result, noise[ref])
            if verdicts and (row["position"], ref) in verdicts:
                result["judge"] = verdicts[(row["position"], ref)]
    rows.sort(key=worst_first)
    return Scored(rows, [_summary(ref, rows, noise[ref]) for ref in refs])


class _Vectors:
    """Every text of the run embedded once, in one call."""

    def __init__(self, embedder: Embedder, cases: Sequence[Case], answers: Answers) -> None:
        texts = [c.original for c in cases] + [r.text for rs in answers.values() for r in rs]
        unique = list(dict.fromkeys(t[:COMPARED_CHARS] for t in texts))
        found = embedder.embed(unique)
        self._rows = {t: found[n : n + 1] for n, t in enumerate(unique)}

    def cos(self, a: str, b: str) -> float:
        value = cosine(self._rows[a[:COMPARED_CHARS]], self._rows[b[:COMPARED_CHARS]])[0]
        return round(float(value), 4)


def _good(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if r.usable]


def _one(case: Case, replies: list[Reply], vectors: _Vectors) -> dict[str, Any]:
    good = _good(replies)
    result: dict[str, Any] = {
        "status": replies[0].outcome if replies and not good else "ok" if good else "missing",
        "asked": len(replies),
        "failed_answers": len(replies) - len(good),
        "texts": [r.text for r in replies],
        "errors": [r.error for r in replies if r.error],
        "served_model": next((r.served_model for r in good if r.served_model), None),
        "latency_ms": _mean([r.ms for r in good if r.ms is not None]),
        "tokens_in": _total([r.tokens_in for r in good]),
        "tokens_out": _total([r.tokens_out for r in good]),
        "cost_usd": _total([r.cost_usd for r in good]),
    }
    if not good:
        return result
    first = _text.shape(good[0].text)
    pairs = [vectors.cos(a.text, b.text) for a, b in combinations(good, 2)]
    result.update(self_similarity=_mean(pairs), shape=first.to_json())
    if not case.original.strip():
        return result
    original = _text.shape(case.original)
    result.update(
        similarity=_mean([vectors.cos(case.original, r.text) for r in good]),
        length_ratio=round(first.chars / max(1, original.chars), 3),
        format=_format(first, original),
        refused=first.refusal and not original.refusal,
    )
    result["format_match"] = round(statistics.fmean(result["format"].values()), 3)
    return result


def _format(answer: _text.Shape, original: _text.Shape) -> dict[str, bool]:
    languages = {answer.language, original.language}
    return {
        "code_blocks": (answer.code_blocks > 0) == (original.code_blocks > 0),
        "lists": (answer.list_items > 0) == (original.list_items > 0),
        "headings": (answer.headings > 0) == (original.headings > 0),
        "language": len(languages) == 1 or "und" in languages,
    }


def _between(
    case: Case, refs: Sequence[str], answers: Answers, vectors: _Vectors
) -> dict[str, float]:
    found = {}
    for a, b in combinations(refs, 2):
        good_a = _good(answers.get((case.position, a), []))
        good_b = _good(answers.get((case.position, b), []))
        if good_a and good_b:
            found[f"{a} | {b}"] = vectors.cos(good_a[0].text, good_b[0].text)
    return found


def _noise(rows: list[dict[str, Any]], ref: str) -> float | None:
    values = [r["answers"][ref].get("self_similarity") for r in rows]
    known = [v for v in values if v is not None]
    return round(1 - statistics.fmean(known), 4) if known else None


def _finish(result: dict[str, Any], noise: float | None) -> None:
    """Drift, drift beyond the noise, and the case's score."""
    similarity = result.get("similarity")
    if result["status"] != "ok":
        result["score"] = 0.0
        return
    if similarity is None:
        result["score"] = None
        return
    result["drift"] = round(1 - similarity, 4)
    result["beyond_noise"] = round(result["drift"] - noise, 4) if noise is not None else None
    ceiling = 1 - noise if noise is not None else 1.0
    meaning = min(1.0, max(0.0, similarity) / max(ceiling, 1e-6))
    ratio = result["length_ratio"] or 1e-6
    length = math.sqrt(min(ratio, 1 / ratio))
    value = 100 * (0.6 * meaning + 0.2 * result["format_match"] + 0.2 * length)
    came = 1 - result["failed_answers"] / result["asked"]  # a failed answer scores 0
    result["score"] = 0.0 if result["refused"] else round(value * came, 1)


def _summary(ref: str, rows: list[dict[str, Any]], noise: float | None) -> dict[str, Any]:
    results = [row["answers"][ref] for row in rows]
    answered = [r for r in results if r["status"] == "ok"]  # tokens and cost: of what came
    scored = [r["score"] for r in results if r.get("score") is not None]
    verdicts = [r["judge"]["verdict"] for r in results if "judge" in r]
    return {
        "ref": ref,
        "score": round(statistics.fmean(scored), 1) if scored else None,
        "cases": len(results),
        "failed": sum(1 for r in results if r["status"] not in ("ok",)),
        "asked": sum(r["asked"] for r in results),
        "failed_answers": sum(r["failed_answers"] for r in results),
        "refused": sum(1 for r in results if r.get("refused")),
        "similarity": _mean([r.get("similarity") for r in results]),
        "self_similarity": _mean([r.get("self_similarity") for r in results]),
        "noise": noise,
        "beyond_noise": sum(1 for r in results if (r.get("beyond_noise") or 0) > 0),
        "length_ratio": _median([r.get("length_ratio") for r in results]),
        "format_match": _mean([r.get("format_match") for r in results]),
        "latency_ms": _median([r.get("latency_ms") for r in results]),
        "tokens_in": _total([r.get("tokens_in") for r in answered]),
        "tokens_out": _total([r.get("tokens_out") for r in answered]),
        "cost_usd": _total([r.get("cost_usd") for r in answered]),
        "judge": {v: verdicts.count(v) for v in ("better", "worse", "same", "split", "unclear")}
        if verdicts
        else None,
    }


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known), 4) if known else None


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 4) if known else None


def _total(values: Sequence[float | int | None]) -> Any:
    """The sum, or None when any part is unknown (a cost that is partly unknown is unknown)."""
    if not values or any(v is None for v in values):
        return None
    return round(sum(v for v in values if v is not None), 6)
