"""The commands over the history: ``import``, ``stats``, ``conversations``, ``search``,
``show``, ``export``. The selection options (``--source``, ``--since``/``--until``,
``--model``) and their checks are ``_base``'s, shared by every command that selects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from freehold import filters, plugins, progress, render
from freehold import reparse as reparse_module
from freehold._browse import SearchPage, page_of
from freehold._queries import CANDIDATES
from freehold.archive import Archive
from freehold.cli._base import (
    archive_session,
    check_period,
    checked,
    err,
    json_option,
    model_option,
    not_blank,
    out,
    period_options,
    print_json,
    print_problems,
    registered,
    source_option,
    stopped_by_signals,
    tell,
)
from freehold.errors import FreeholdError, StorageError
from freehold.ingest import import_path

__all__ = ["conversations", "export", "import_command", "reparse", "search", "show", "stats"]

_CONVERSATION_MODEL = (
    "Only conversations with this model, theirs or a message's (gpt-4* for a prefix)."
)


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def import_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Import exports (zip, folder or JSON) of ChatGPT, Claude, Gemini, Open WebUI, LibreChat,
    Google AI Studio, Grok, Mistral; an llm logs.db; or a 'freehold export --format json' folder.

    The source is detected. Importing the same file again changes nothing; a newer export adds
    and updates, never deletes. Exits non-zero when anything was skipped.
    """
    entries: list[dict[str, Any]] = []  # one per path tried: its report, or why it failed
    try:
        with stopped_by_signals(), archive_session(create=True) as archive:
            for path in paths:
                _import_one(archive, path, as_json, entries)
    finally:  # what was tried, before any error that stopped the rest: always valid JSON
        if as_json and entries:
            print_json(entries if len(paths) > 1 else entries[0])
    if not all(entry["ok"] for entry in entries):
        raise click.exceptions.Exit(1)


def _import_one(archive: Archive, path: Path, as_json: bool, entries: list[dict[str, Any]]) -> None:
    """``path``'s report added to ``entries``; or, when it cannot be read, ``{"path", "ok":
    false, "error"}``, said on stderr. A storage failure is added too, then stops the whole
    import (the next export would fail the same way)."""
    try:
        with progress.reading(err, path.name) as tick:
            report = import_path(archive, path, progress=tick).to_json()
    except FreeholdError as error:
        entries.append({"path": str(path), "ok": False, "error": str(error)})
        if isinstance(error, StorageError):
            raise
        tell(f"Error: {error}")
        return
    entries.append(report)
    if not as_json:
        out.print(render.import_report(report))
        print_problems(report)


@click.command()
@source_option("Only conversations from this source kind")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Convert every conversation again, not only those an older importer stored.",
)
@click.option("--dry-run", is_flag=True, help="Say what would change, and change nothing.")
@json_option
def reparse(source: str | None, everything: bool, dry_run: bool, as_json: bool) -> None:
    """Convert stored conversations again from the raw JSON the archive kept, with this
    freehold's importers: those an older importer version stored, or all of them (--all).

    No export is needed. Turns written here, stars and every message kept stay; attachments
    stay linked. Safe to stop: a second run finishes. Exits non-zero when any conversation
    could not be converted (each is named).
    """
    with stopped_by_signals(), archive_session() as archive:
        todo = reparse_module.due(archive, kind=source, everything=everything)
        with progress.counting(err, "reparse", len(todo)) as tick:
            report = reparse_module.run(archive, todo, dry_run=dry_run, progress=tick).to_json()
    if as_json:
        print_json(report)
    elif not todo:
        out.print(_nothing_to_convert(source, everything), highlight=False, soft_wrap=True)
    else:
        out.print(render.reparse_report(report))
        for line in render.reparse_items(report):
            out.print(line)
        print_problems(report)
    if not report["ok"]:
        raise click.exceptions.Exit(1)


def _nothing_to_convert(kind: str | None, everything: bool) -> str:
    """The one line of a reparse that found nothing to convert: a table of zeros said less."""
    if everything:
        return f"nothing to convert: the archive holds no {kind + ' ' if kind else ''}conversation"
    return (
        f"nothing to convert: every {kind + ' ' if kind else ''}conversation was stored by "
        "its importer's current version (use --all)"
    )


@click.command()
@json_option
def stats(as_json: bool) -> None:
    """What the archive holds (conversations, messages on every branch, attachments, imports)
    and where it is."""
    with archive_session() as archive:
        numbers = {"archive": str(archive.path), **archive.stats()}
    if as_json:
        print_json(numbers)
    else:
        out.print(render.stats_table(numbers))


@click.command()
@click.argument("query")
@source_option("Only messages from this source kind")
@model_option("Only messages from this model (its exact name; gpt-4* for gpt-4, gpt-4o…).")
@click.option(
    "--role",
    callback=checked(filters.check_role),
    help="Only messages of this role: user, assistant, system, tool.",
)
@period_options("messages")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option(
    "--offset",
    type=click.IntRange(0),
    default=0,
    help="Skip this many of the ranked matches: --offset 20 shows the second page of 20.",
)
@click.option("--semantic", is_flag=True, help="Search by meaning (embeddings; docs/searching.md).")
@click.option("--embedder", metavar="NAME", help="With --semantic: local, lexical, provider:model.")
@json_option
def search(
    query: str,
    as_json: bool,
    limit: int,
    offset: int,
    semantic: bool,
    embedder: str | None,
    **filters: Any,
) -> None:
    """Full-text search over every message, ranked, with highlighted snippets.

    Messages are found by their text and by the names of the files they attach (a word
    there may be the start of one: quart finds quarterly-report.pdf). Every word must
    match; "a phrase" matches words in a row; OR between two words matches either; word*
    matches words starting with it. Anything else is a literal word.
    --semantic finds messages near in meaning instead (built and kept beside the archive).
    When more match than are shown, stderr says how many (stdout holds only the matches).
    """
    check_period(filters["since"], filters["until"])
    if embedder is not None and not semantic:
        raise click.UsageError("--embedder chooses how --semantic searches: give --semantic too")
    with archive_session() as archive:
        _say_models_left_out(archive, filters["model"])
        try:
            if semantic:
                # Embeddings (numpy, a model) are loaded only for a search by meaning.
                from freehold.cli._semantic import semantic_search

                most = CANDIDATES + 1  # one past the cap: page_of says it was reached
                found = semantic_search(archive, err, query, embedder, limit=most, **filters)
                result = page_of(found, limit=limit, offset=offset)
            else:
                result = archive.search_page(query, limit=limit, offset=offset, **filters)
        except FreeholdError as error:
            raise click.ClickException(str(error)) from error
    _print_hits(result, offset, filters, as_json=as_json, scores=semantic)


def _print_hits(
    result: SearchPage, offset: int, filters: dict[str, Any], *, as_json: bool, scores: bool
) -> None:
    """The hits on stdout (lines, or a JSON list), and on stderr how many there are when
    that is more than these."""
    if as_json:
        print_json([hit.to_json() for hit in result.hits])
    else:
        for line in render.search_hits(result.hits, scores=scores):
            out.print(line)
    if not result.total:
        tell("no matches" + _filters_text(filters))
    elif not result.hits:
        tell(f"no matches past --offset {offset}: {result.total} in all")
    elif len(result.hits) < result.total:
        tell(_showing(result, offset))


def _showing(result: SearchPage, offset: int) -> str:
    """``showing 21–40 of 118 matches — --offset 40 for the next``: where a page is in the
    list, as the web pager says it."""
    last = offset + len(result.hits)
    total = f"{result.total:,}{'+' if result.capped else ''}"
    more = f" — --offset {last} for the next" if last < result.total else ""
    return f"showing {offset + 1}–{last} of {total} matches{more}"


def _given(filters: dict[str, Any]) -> str:
    """``--source chatgpt, --model gpt-5``: the filters used, which a reader may have mistyped."""
    return ", ".join(f"--{name} {value}" for name, value in filters.items() if value)


def _say_models_left_out(archive: Archive, model: str | None, shown: int = 3) -> None:
    """One stderr line when an exact ``--model`` leaves out names that start with it (the
    archive's models, conversations' and messages'): ``gpt-4`` is not ``gpt-4o``; ``gpt-4*``
    takes both."""
    if not model or model.endswith("*"):
        return
    names = [name for name in archive.models_starting(model) if name != model]
    if names:
        listed = ", ".join(names[:shown]) + ("…" if len(names) > shown else "")
        err.print(
            f"note: models starting with {model}: {listed} — {model}* takes them", soft_wrap=True
        )


def _filters_text(filters: dict[str, Any]) -> str:
    given = _given(filters)
    return f" with {given}" if given else ""


@click.command()
@source_option("Only conversations from this source kind")
@period_options("conversations created")
@model_option(_CONVERSATION_MODEL)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many, the most recently updated.",
)
@json_option
def conversations(limit: int, as_json: bool, **filters: Any) -> None:
    """List conversations, most recently updated first: id, day, source, messages, title.

    The id (or a unique start of it) is what show, export --id and chat --continue take.
    When --limit leaves some out, a line on stderr says how many there are.
    """
    check_period(filters["since"], filters["until"])
    with archive_session() as archive:
        _say_models_left_out(archive, filters["model"])
        try:
            listing = archive.conversation_rows(**filters, limit=limit)
        except FreeholdError as error:
            raise click.ClickException(str(error)) from error
    if as_json:
        print_json([row.to_json() for row in listing.rows])
    else:
        for line in render.conversation_lines(listing.rows):
            out.print(line, soft_wrap=True)
    if not listing.rows:
        tell(f"no conversations{_filters_text(filters)}" if _given(filters) else _EMPTY)
    elif listing.total > len(listing.rows):
        tell(
            f"showing {len(listing.rows):,} of {progress.plural(listing.total, 'conversation')} "
            f"— --limit {listing.total} lists them all"
        )


_EMPTY = "the archive holds no conversations — import an export first"


@click.command()
@click.argument("conversation")
@click.option("--all-branches", is_flag=True, help="Show every branch, not only the visible one.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the conversation as a line of the JSON export (times in epoch seconds, UTC).",
)
def show(conversation: str, all_branches: bool, as_json: bool) -> None:
    """Read one conversation: by freehold id, source id, or a unique prefix of either.

    --json prints it as a line of the JSON export's conversations.jsonl, every branch, without
    its raw versions: times are epoch seconds (UTC, as the platform gave them), where search
    --json and exits list --json write ISO 8601 (docs/exporting.md)."""
    from freehold.exporters.json import conversation_to_json

    with archive_session() as archive:
        try:
            conv = archive.get_conversation(conversation)
        except FreeholdError as error:
            raise click.ClickException(str(error)) from error
    if as_json:
        print_json(conversation_to_json(conv))
        return
    for item in render.conversation(conv, all_branches=all_branches):
        out.print(item)


@click.command()
@click.option(
    "--format",
    "format_name",
    required=True,
    callback=registered("format", plugins.exporters),
    help="Output format: json, markdown, html, pdf, csv, jsonl, openwebui.",
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--all-branches", is_flag=True, help="Render every branch in full.")
@source_option("Only conversations from this source kind")
@period_options("conversations created")
@model_option(_CONVERSATION_MODEL)
@click.option(
    "--query", callback=not_blank, help="Only conversations with a message matching this search."
)
@click.option("--id", "ids", multiple=True, help="Only these conversations (repeatable).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was written (and left out) as JSON."
)
def export(
    format_name: str,
    out_dir: Path,
    all_branches: bool,
    ids: tuple[str, ...],
    as_json: bool,
    **filters: Any,
) -> None:
    """Write the archive (or a selection) in an open format, into a new folder.

    The jsonl format also says what it left out: conversations without an answer, incomplete
    answers cut, and the tool calls, reasoning and hidden messages not included."""
    exporters = plugins.exporters()
    check_period(filters["since"], filters["until"])
    with archive_session() as archive:
        _say_models_left_out(archive, filters["model"])
        try:
            wanted = [archive.resolve(ref) for ref in ids] if ids else None
            selected = archive.select(ids=wanted, **filters)
            if not selected:
                raise click.ClickException(_nothing_selected(filters, ids))
            label = f"export {format_name}"
            module = exporters[format_name]
            # An exporter that can say what it left out offers write_summary (jsonl does).
            write = getattr(module, "write_summary", module.write)
            with progress.counting(err, label, len(selected)) as tick:
                result = write(
                    archive,
                    archive.iter_conversations(ids=selected),
                    out_dir,
                    all_branches=all_branches,
                    progress=tick,
                )
        except FreeholdError as error:
            raise click.ClickException(str(error)) from error
    _print_written(result, format_name, out_dir, as_json)


def _print_written(result: Any, format_name: str, out_dir: Path, as_json: bool) -> None:
    """An int (conversations written) or an exporter's summary, as a line or as JSON."""
    if as_json:
        detail = result.to_json() if hasattr(result, "to_json") else {"written": result}
        print_json({"format": format_name, "out": str(out_dir), **detail})
    elif hasattr(result, "text"):
        err.print(result.text(out_dir), soft_wrap=True)
    else:
        err.print(f"wrote {progress.plural(result, 'conversation')} to {out_dir}", soft_wrap=True)


def _nothing_selected(filters: dict[str, Any], ids: tuple[str, ...]) -> str:
    given = _given({**filters, "id": " ".join(ids)})
    if not given:
        return "the archive holds no conversations — import an export first; nothing written"
    return f"no conversation matches {given} — nothing written"
