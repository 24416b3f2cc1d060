"""A rehearsal's results three ways: JSON, a terminal table, a self-contained HTML file.

``document`` is the one shape every output reads (and ``--json`` prints): the run (id, when,
options, embedder), each candidate's summary, and every case with each candidate's answers
and scores, worst drift first. The HTML report is one file with its styles inline and no
script (a strict Content-Security-Policy in the file says so): answers side by side with the
original, rendered from Markdown through ``safehtml`` (nh3-cleaned, as the web app does), so an
answer cannot run anything in the reader's browser.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from rich.table import Table
from rich.text import Text

from freehold import render, safehtml
from freehold.rehearse.score import Scored

__all__ = ["document", "failures", "html", "tables"]


def document(run: dict[str, Any], scored: Scored) -> dict[str, Any]:
    return {"run": run, "candidates": scored.candidates, "cases": scored.cases}


def tables(doc: dict[str, Any], worst: int = 10) -> list[Table]:
    """The candidates' summary, and the ``worst`` cases with each candidate's score."""
    summary = Table(title=f"rehearsal {doc['run']['id']}: {len(doc['cases'])} past prompts")
    for name in ("candidate", "score", "similarity", "noise", "beyond noise", "length ×"):
        summary.add_column(name, justify="left" if name == "candidate" else "right")
    for name in ("format", "refused", "answers failed", "latency", "tokens in/out", "cost"):
        summary.add_column(name, justify="right")
    if doc["run"]["options"].get("judge"):
        summary.add_column("judge +/=/−/split/?", justify="right")
    for c in doc["candidates"]:
        row: list[str | Text] = [
            render.visible(c["ref"]),
            _num(c["score"], 1),
            _num(c["similarity"], 3),
            _num(c["noise"], 3),
            str(c["beyond_noise"]),
            _num(c["length_ratio"], 2),
            _pct(c["format_match"]),
            str(c["refused"]),
            Text(_failed(c), style="red" if c.get("failed_answers", c["failed"]) else ""),
            _ms(c["latency_ms"]),
            f"{c['tokens_in'] or '?'}/{c['tokens_out'] or '?'}",
            _usd(c["cost_usd"]),
        ]
        if doc["run"]["options"].get("judge"):
            j = c["judge"] or {}
            counts = ("better", "same", "worse", "split", "unclear")
            row.append("/".join(str(j.get(k, 0)) for k in counts))
        summary.add_row(*row)
    return [summary, _cases(doc, worst)]


def failures(doc: dict[str, Any]) -> list[str]:
    """One line per candidate some of whose answers failed: how many, and the first error."""
    lines = []
    for c in doc["candidates"]:
        if not c.get("failed_answers"):
            continue
        errors = (e for case in doc["cases"] for e in case["answers"][c["ref"]]["errors"])
        first = next(errors, None)
        lines.append(
            f"{c['ref']}: {_failed(c)} answers failed — its score counts each as 0, its "
            f"latency, tokens and cost are of the answers that came; they are asked again on "
            f"the next run" + (f" (first: {first})" if first else "")
        )
    return lines


def _failed(c: dict[str, Any]) -> str:
    """``failed_answers`` of ``asked`` ("4 of 8"); a run stored before they were counted
    says its failed cases."""
    if "asked" not in c:
        return str(c["failed"])
    return f"{c['failed_answers']} of {c['asked']}"


def _cases(doc: dict[str, Any], worst: int) -> Table:
    table = Table(title=f"worst drift first (the {min(worst, len(doc['cases']))} lowest)")
    table.add_column("#", justify="right")
    table.add_column("prompt")
    for c in doc["candidates"]:
        table.add_column(render.visible(c["ref"]), justify="right")
    for case in doc["cases"][:worst]:
        cells = [_cell(a) for a in case["answers"].values()]
        prompt = render.visible(" ".join(case["prompt"].split()))
        table.add_row(str(case["position"] + 1), prompt[:70], *cells)
    return table


def _cell(result: dict[str, Any]) -> Text:
    if result["status"] != "ok":
        return Text(result["status"], style="red")
    text = f"{_num(result.get('score'), 0)} (sim {_num(result.get('similarity'), 2)})"
    flags = [f for f in ("refused",) if result.get(f)]
    if result.get("failed_answers"):
        flags.append(f"{_failed(result)} failed")
    if result.get("judge"):
        flags.append(result["judge"]["verdict"])
    return Text(text + (" " + ", ".join(flags) if flags else ""), style=_style(result))


def _style(result: dict[str, Any]) -> str:
    score = result.get("score")
    return "" if score is None else "red" if score < 50 else "yellow" if score < 75 else "green"


def html(doc: dict[str, Any]) -> str:
    """The self-contained HTML report."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(
        num=_num,
        pct=_pct,
        ms=_ms,
        usd=_usd,
        grade=_grade,
        failed=_failed,
        markdown=lambda text: Markup(safehtml.render_markdown(text)),
    )
    source = resources.files("freehold.rehearse").joinpath("report.html").read_text("utf-8")
    lexical = str(doc["run"].get("embedder") or "").startswith("lexical")
    return env.from_string(source).render(
        **doc, lexical=lexical, highlight_css=Markup(safehtml.highlight_css())
    )


def _grade(score: Any) -> str:
    return "" if not _known(score) else "bad" if score < 50 else "fair" if score < 75 else "good"


def _known(value: Any) -> bool:
    """A number (a missing score in a template is jinja's Undefined, not None)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(value: Any, places: int) -> str:
    return f"{value:.{places}f}" if _known(value) else "—"


def _pct(value: Any) -> str:
    return f"{value:.0%}" if _known(value) else "—"


def _ms(value: Any) -> str:
    return f"{value:,.0f} ms" if _known(value) else "—"


def _usd(value: Any) -> str:
    return f"${value:.4f}" if _known(value) else "?"
