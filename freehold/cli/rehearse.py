"""``freehold rehearse``: replay past prompts on candidate models and read where they drift.

The command parses flags, shows the estimate and asks before spending, and prints; the
library (``freehold.rehearse``) picks, asks, scores and stores. Tables and the report path go
to stdout (``--json``: the whole result), the estimate, notices and the bar to stderr. Exit
status: 0; 1 when a candidate scores under ``--fail-under`` (or has no score at all).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from freehold import _private, embeddings
from freehold._words import plural
from freehold.archive import Archive
from freehold.cli._base import archive_session, err, json_option, out, print_json, tell
from freehold.cli._semantic import counting
from freehold.cli.profile import reviewed, stdin_can_answer
from freehold.config import load_config
from freehold.errors import FreeholdError
from freehold.models import Message
from freehold.rehearse import engine, report
from freehold.rehearse.engine import Estimate, Options, Plan
from freehold.rehearse.store import STORE_NAME, RunStore

__all__ = ["rehearse"]


@click.command()
@click.option(
    "--candidates",
    required=True,
    metavar="REF,REF",
    help="The models to rehearse: provider:model or aliases from config.toml, comma-separated.",
)
@click.option("--sample", "size", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--query", help="Only prompts a full-text search finds for this (its newest 1,000).")
@click.option(
    "--conversation",
    "conversations",
    multiple=True,
    metavar="ID",
    help="Only prompts from this conversation (repeatable).",
)
@click.option(
    "--pin",
    "pins",
    multiple=True,
    metavar="CONVERSATION:MESSAGE",
    help="Always rehearse this prompt (repeatable; message ids as `show --json` gives them).",
)
@click.option("--profile", metavar="NAME", help="Wear this profile (its text before the system).")
@click.option("--judge", metavar="REF", help="A model that compares each answer with the original.")
@click.option(
    "--repeats",
    type=click.IntRange(1, 5),
    default=2,
    show_default=True,
    help="Ask each prompt this many times per candidate (2+ measures each model's own noise).",
)
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option(
    "--embedder",
    metavar="NAME",
    help="local (wordllama, the default), lexical, or provider:model (an /embeddings endpoint).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Another seed, other prompts.")
@click.option(
    "--yes",
    is_flag=True,
    help="Spend without asking (scheduled runs).",
)
@click.option(
    "--keep-flagged",
    is_flag=True,
    help="Send the --profile text with what its review flagged and nobody decided on, to every "
    "candidate and the judge (for this run only).",
)
@click.option(
    "--strike-all",
    is_flag=True,
    help="Strike from the --profile text what its review flagged and nobody decided on "
    "(for this run only).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the HTML report here (default: rehearsals/run-N.html in the data folder).",
)
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 100),
    metavar="SCORE",
    help="Exit 1 when a candidate's score (0-100) is under SCORE.",
)
@json_option
def rehearse(
    candidates: str,
    size: int,
    profile: str | None,
    embedder: str | None,
    yes: bool,
    keep_flagged: bool,
    strike_all: bool,
    html_path: Path | None,
    fail_under: float | None,
    as_json: bool,
    **chosen: Any,
) -> None:
    """Replay your own past prompts — each with the conversation it had — on candidate models,
    and score where their answers drift from the ones you got: meaning, length, format,
    language, refusals, latency, tokens and cost, read against each model's own noise.

    The estimated cost is shown and asked about before anything is spent (--yes skips the
    question). A --profile with flagged items nobody reviewed is asked about on a terminal;
    unattended, --keep-flagged keeps them and --strike-all strikes them, for this run only
    (--yes consents to the cost alone, not to sending personal data). Answers
    are cached: a run cut short goes on when the same command runs again.
    Runs are stored apart from the history (rehearsals.sqlite in the data folder).
    """
    options = Options(
        candidates=[c.strip() for c in candidates.split(",") if c.strip()],
        sample=size,
        query=chosen["query"],
        conversations=list(chosen["conversations"]),
        pins=list(chosen["pins"]),
        profile=profile,
        judge=chosen["judge"],
        repeats=chosen["repeats"],
        concurrency=chosen["concurrency"],
        seed=chosen["seed"],
    )
    if not options.candidates:
        raise click.UsageError("--candidates needs at least one model")
    try:
        flagged = (keep_flagged, strike_all)
        doc = _run(options, embedder, yes=yes, flagged=flagged, html_path=html_path)
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        print_json(doc)
    else:
        for table in report.tables(doc):
            out.print(table)
        out.print(f"report: {doc['run']['report']}", soft_wrap=True)
    for line in report.failures(doc):
        tell(line, style="red")
    _check(doc, fail_under)


def _run(
    options: Options,
    embedder_name: str | None,
    *,
    yes: bool,
    flagged: tuple[bool, bool],
    html_path: Path | None,
) -> dict[str, Any]:
    config = load_config()
    system = _profile_text(options.profile, *flagged) if options.profile else None
    embedder = embeddings.choose(embedder_name, notice=lambda t: tell(f"note: {t}"))
    with archive_session() as archive, RunStore(archive.home / STORE_NAME) as store:
        options.conversations = [archive.resolve(ref) for ref in options.conversations]
        pins = [_pin(archive, ref) for ref in options.pins]
        with err.status("picking past prompts…"):
            plan = engine.plan(archive, config, options, embedder, store, system=system, pins=pins)
        try:
            return _carry_out(plan, store, archive, yes=yes, html_path=html_path)
        finally:
            plan.close()


def _pin(archive: Archive, ref: str) -> Message:
    conversation, colon, message = ref.rpartition(":")
    if not colon or not conversation or not message:
        raise FreeholdError(f"--pin {ref}: give CONVERSATION:MESSAGE (ids from `show --json`)")
    found = archive.find_message(archive.resolve(conversation), message)
    if found.role != "user":
        raise FreeholdError(f"--pin {ref}: that message is not a prompt (its role is {found.role})")
    return found


def _carry_out(
    plan: Plan, store: RunStore, archive: Archive, *, yes: bool, html_path: Path | None
) -> dict[str, Any]:
    for notice in plan.notices:
        err.print(f"note: {notice}", style="yellow", soft_wrap=True)
    estimate = plan.estimate([*plan.tasks, *engine.judge_estimate(plan, store)])
    _confirm(plan, estimate, yes=yes)
    run_id = store.start(plan.digest, plan.options.to_json(), _embedder(plan), plan.cases)
    with counting(err, "rehearse", "answers") as tick:
        replies = engine.ask(plan, store, progress=tick)
    votes = engine.judge_tasks(plan, store, replies)
    with counting(err, "judge", "votes") as tick:
        voted = engine.ask(plan, store, votes, progress=tick) if votes else {}
    scored = engine.scored(plan, replies, engine.judge(plan, store, votes, voted))
    results = [
        (row["position"], ref, _keys(plan, row["position"], ref), result)
        for row in scored.cases
        for ref, result in row["answers"].items()
    ]
    store.finish(run_id, results, scored.candidates)
    path = html_path or archive.home / "rehearsals" / f"run-{run_id}.html"
    run = {**store.runs(run_id)[0], "estimate": estimate.to_json(), "report": str(path)}
    doc = report.document(run, scored)
    _write(path, report.html(doc))
    return doc


def _embedder(plan: Plan) -> str:
    return f"{plan.embedder.name} {plan.embedder.version}"


def _keys(plan: Plan, position: int, ref: str) -> list[str]:
    return [t.key for t in plan.tasks if t.position == position and str(t.ref) == ref]


def _confirm(plan: Plan, estimate: Estimate, *, yes: bool) -> None:
    """Say what the run would cost, and ask before spending anything."""
    line = (
        f"{len(plan.cases)} past prompts × {plural(len(plan.refs), 'candidate')} × "
        f"{plural(plan.options.repeats, 'repeat')}: {plural(estimate.calls, 'request')} to send, "
        f"{estimate.cached} already answered (cached); ~{estimate.tokens_in:,} tokens in, "
        f"~{estimate.tokens_out:,} out; estimated ${estimate.cost_usd:.4f}"
    )
    if estimate.unpriced:
        line += f" plus {', '.join(estimate.unpriced)} (no price known: local, or not in the table)"
    err.print(line, soft_wrap=True)
    if not estimate.calls or yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError("nothing was sent: add --yes to spend without being asked")
    click.confirm("send them?", abort=True, err=True)


def _write(path: Path, text: str) -> None:
    """The report holds past prompts: 0600 wherever it goes (chmod it to share it)."""
    try:
        _private.replace(path, text.encode("utf-8"))
    except OSError as error:
        raise FreeholdError(f"{path}: cannot write the report ({error.strerror})") from error


def _check(doc: dict[str, Any], fail_under: float | None) -> None:
    if fail_under is None:
        return
    low = [c for c in doc["candidates"] if c["score"] is None or c["score"] < fail_under]
    for c in low:
        shown = "no score" if c["score"] is None else f"{c['score']:.1f}"
        tell(f"{c['ref']}: {shown}, under --fail-under {fail_under:g}", style="red")
    if low:
        raise click.exceptions.Exit(1)


def _profile_text(name: str, keep_flagged: bool, strike_all: bool) -> str:
    """The profile's text as it may leave: reviewed, as ``chat --profile`` sends it. Flagged
    items nobody decided on: kept (--keep-flagged) or struck (--strike-all) — consent to send
    personal data to every candidate and the judge is its own flag, not --yes's consent to
    spend — else asked on a terminal."""
    worn, _ = reviewed(
        name,
        None,
        yes=keep_flagged,
        strike_all=strike_all,
        ask=stdin_can_answer(),
        keep_flag="--keep-flagged",
    )
    return worn.system
