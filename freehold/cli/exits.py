"""The ``freehold exits`` group: the exit plan for every rented platform (``freehold.exits``).

``add`` and ``record`` write to the archive (and create it on a fresh data folder: a person may
keep an exit plan before importing any AI history); ``list``, ``show`` and ``status`` only read,
and on a data folder without an archive they show an empty plan and create nothing.
``status`` exits 1 when an export is overdue, for a scheduled job to notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from freehold import exits, progress, render
from freehold.archive import Archive, open_archive
from freehold.cli._base import (
    Commands,
    archive_session,
    err,
    json_option,
    out,
    print_json,
    print_problems,
    tell,
)
from freehold.errors import FreeholdError, NoArchiveError

__all__ = ["exits_group"]


@click.group(name="exits", cls=Commands)
def exits_group() -> None:
    """The exit plan: every platform you rent (AI apps, payments, e-mail lists, CRMs, shops,
    hosting, social accounts, cloud drives), where its export is, and when the next is due.

    Exports you record are kept in the data folder's vault (and in every backup); AI exports
    are imported into the archive too. See docs/exits.md.
    """


@contextmanager
def _reading() -> Iterator[Archive | None]:
    """The archive to read the plan from, or None when the data folder holds none yet."""
    try:
        archive = open_archive(notice=tell, create=False)
    except NoArchiveError:
        yield None
        return
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    try:
        yield archive
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    finally:
        archive.close()


def _cadence(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return exits.parse_cadence(value) if value is not None else None
    except FreeholdError as error:
        raise click.BadParameter(str(error)) from error


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return exits.parse_date(value) if value is not None else None
    except FreeholdError as error:
        raise click.BadParameter(str(error)) from error


def _day(iso: str | None) -> str:
    return iso[:10] if iso else "—"


# -- list, show ----------------------------------------------------------------------------------


@exits_group.command(name="list")
@click.option("--catalogue", is_flag=True, help="List the shipped catalogue, not your plan.")
@click.option(
    "--category",
    type=click.Choice(list(exits.CATEGORIES)),
    help="Only platforms of this category.",
)
@json_option
def list_command(catalogue: bool, category: str | None, as_json: bool) -> None:
    """Your exit plan: each platform, how often to export it, its last recorded export.

    With --catalogue: every platform freehold knows, what it holds and its export formats
    (add yours with `freehold exits add`).
    """
    if catalogue:
        _list_catalogue(category, as_json)
        return
    with _reading() as archive:
        found = exits.status(archive) if archive else []
        counts = _export_counts(archive) if archive else {}
    found = [s for s in found if category is None or _category(s) == category]
    if as_json:
        print_json([{**s.to_json(), "exports": counts.get(s.entry.id, 0)} for s in found])
    elif not found:
        tell(_empty_plan())
    else:
        out.print(_plan_table(found, counts))


def _category(state: exits.Status) -> str | None:
    return state.platform.category if state.platform else None


def _export_counts(archive: Archive) -> dict[str, int]:
    counts: dict[str, int] = {}
    for export in archive.exit_exports():
        counts[export.platform_id] = counts.get(export.platform_id, 0) + 1
    return counts


def _empty_plan() -> str:
    return (
        "No platform in your exit plan yet: add yours, e.g. `freehold exits add chatgpt` "
        "(`freehold exits list --catalogue` lists the platforms freehold knows)"
    )


def _plan_table(found: list[exits.Status], counts: dict[str, int]) -> Table:
    table = Table(title=f"Your exit plan ({progress.plural(len(found), 'platform')})")
    for column in ("platform", "name", "every", "exports", "last export", "next due"):
        table.add_column(column)
    for state in found:
        table.add_row(
            Text(state.entry.id),
            Text(state.entry.name),
            f"{state.entry.cadence_days} d",
            str(counts.get(state.entry.id, 0)),
            _day(state.latest.exported_at if state.latest else None),
            _due(state),
        )
    return table


def _due(state: exits.Status) -> Text:
    if not state.overdue:
        return Text(state.due.date().isoformat())
    never = "no usable export" if state.unusable else "no export yet"
    late = f"overdue {state.days_overdue} d" if state.latest else never
    return Text(late, style="bold red")


def _list_catalogue(category: str | None, as_json: bool) -> None:
    found = exits.catalogue()
    platforms = [p for p in found.platforms.values() if category in (None, p.category)]
    if as_json:
        print_json({"compiled": found.compiled, "platforms": [p.to_json() for p in platforms]})
        return
    table = Table(title=f"The catalogue ({len(platforms)} platforms, compiled {found.compiled})")
    for column in ("platform", "name", "category", "formats", "every"):
        table.add_column(column)
    for platform in platforms:
        table.add_row(
            platform.id,
            platform.name,
            platform.category,
            _formats(platform.formats),
            f"{platform.cadence_days} d",
        )
    out.print(table)
    out.print("Details: freehold exits show PLATFORM")


def _formats(formats: tuple[exits.Format, ...]) -> Text:
    text = Text()
    for index, found in enumerate(formats):
        text.append(", " if index else "")
        text.append(found.format, style="" if found.open else "bold red")
        text.append("" if found.open else " (not open)")
    return text


@exits_group.command()
@click.argument("platform")
@json_option
def show(platform: str, as_json: bool) -> None:
    """What PLATFORM holds, where its export is, its formats, and the exports you recorded."""
    found = exits.catalogue().find(platform)
    with _reading() as archive:
        entry = archive.exit_platform(found.id if found else platform.lower()) if archive else None
        records = archive.exit_exports(entry.id) if archive and entry else []
    if found is None and entry is None:
        raise click.ClickException(exits.unknown_platform(platform))
    if as_json:
        print_json(
            {
                "catalogue": found.to_json() if found else None,
                "plan": entry.to_json() if entry else None,
                "exports": [r.to_json() for r in records],
            }
        )
        return
    if found is not None:
        _print_platform(found)
    if entry is not None:
        _print_entry(entry, records)


def _print_platform(platform: exits.Platform) -> None:
    out.print(Text(f"{platform.name} ({platform.id}, {platform.category})", style="bold"))
    out.print("Holds: " + "; ".join(platform.holds))
    out.print(f"Export: {platform.export}")
    out.print(f"Documentation: {platform.docs}", soft_wrap=True)
    out.print(Text("Formats: ").append_text(_formats(platform.formats)))
    out.print(f"Suggested: every {platform.cadence_days} days")
    if platform.importer:
        out.print(f"Recorded exports are imported into the archive ({platform.importer}).")
    if platform.note:
        out.print(f"Note: {platform.note}")
    compiled = exits.catalogue().compiled
    out.print(f"Sources (as of {compiled}): " + " ".join(platform.sources), soft_wrap=True)


def _print_entry(entry: Any, records: list[Any]) -> None:
    removed = f", taken out of the plan {_day(entry.removed_at)}" if entry.removed_at else ""
    out.print(Text(f"In your plan: every {entry.cadence_days} days{removed}", style="bold"))
    if entry.catalogue_id is None:
        out.print(Text(f"{entry.name} ({entry.id}), your own platform"))
    if entry.export_where:
        out.print(Text(f"Export: {entry.export_where}"))
    if entry.note:
        out.print(Text(f"Note: {entry.note}"))
    if not records:
        out.print(f"No export recorded yet: freehold exits record {entry.id} FILE")
        return
    table = Table(title=f"Recorded exports ({len(records)})")
    for column in ("exported", "file", "size", "format", "open", "usable", "sha256"):
        table.add_column(column)
    for r in records:
        table.add_row(
            _day(r.exported_at),
            Text(r.file_name),
            _size(r.size),
            r.format,
            _open(r.open),
            _open(exits.unusable(r) is None),
            r.sha256[:12],
        )
    out.print(table)


def _size(size: int) -> str:
    """``812 B``, ``56.6 KB``, ``1.2 GB``: decimal units, as the web app shows sizes."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return ""


def _open(value: bool) -> Text:
    return Text("yes") if value else Text("no", style="bold red")


# -- add, remove -----------------------------------------------------------------------------------


@exits_group.command()
@click.argument("platform")
@click.option("--name", help="Its name, for a platform of your own (not in the catalogue).")
@click.option(
    "--cadence",
    callback=_cadence,
    metavar="DAYS",
    help="How often to export it: days (30), weeks (2w), or monthly, quarterly… "
    "[default: the catalogue's, else monthly]",
)
@click.option("--where", help="Where its export is (menu path, URL), for your own platform.")
@click.option("--note", help="A note to yourself (which account, who has access…).")
def add(
    platform: str, name: str | None, cadence: int | None, where: str | None, note: str | None
) -> None:
    """Add PLATFORM to your exit plan: a catalogue id or name (chatgpt, stripe, "Le Chat"…),
    or an id of your own with --name. Adding it again changes what you give."""
    with archive_session(create=True) as archive:
        entry, what = exits.add(
            archive, platform, name=name, cadence=cadence, where=where, note=note
        )
    out.print(
        Text(
            f"{what.capitalize()} {entry.name} ({entry.id}): export every "
            f"{entry.cadence_days} days."
        )
    )
    if what == "added":
        out.print(f"Record each export with: freehold exits record {entry.id} FILE")


@exits_group.command()
@click.argument("platform")
def remove(platform: str) -> None:
    """Take PLATFORM out of your exit plan. Its recorded exports stay in the vault (and in
    backups); adding it again brings them back."""
    with archive_session() as archive:
        entry = exits.planned(archive, platform)
        kept = archive.remove_exit_platform(entry.id)
    kept_text = (
        f"; its {progress.plural(kept, 'recorded export')} stay in the vault" if kept else ""
    )
    out.print(Text(f"Took {entry.name} ({entry.id}) out of the plan{kept_text}."))


# -- record ----------------------------------------------------------------------------------------


@exits_group.command()
@click.argument("platform")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--date",
    "exported_at",
    callback=_date,
    metavar="YYYY-MM-DD",
    help="The day the export was made (YYYY-MM-DD) [default: the file's modification time].",
)
@click.option("--no-import", is_flag=True, help="Keep an AI export without importing it.")
@json_option
def record(
    platform: str, files: tuple[Path, ...], exported_at: str | None, no_import: bool, as_json: bool
) -> None:
    """Keep each export FILE of PLATFORM in the vault (by content: the same file twice is kept
    once) with its date, size and sniffed format; an AI export is also imported.

    Exits 1 when a file is refused or cut short, or its import failed or skipped something.
    """
    results = []
    failed = False
    with archive_session(create=True) as archive:
        for path in files:
            try:
                done = _record_one(archive, platform, path, exported_at, no_import)
            except FreeholdError as error:
                err.print(f"Error: {render.visible(str(error))}", soft_wrap=True)
                failed = True
                continue
            results.append(_recorded_json(done))
            failed |= not results[-1]["ok"]
            if not as_json:
                _print_recorded(done)
    if as_json and results:
        print_json(results if len(files) > 1 else results[0])
    if failed:
        raise click.exceptions.Exit(1)


def _record_one(
    archive: Archive, platform: str, path: Path, exported_at: str | None, no_import: bool
) -> exits.Recorded:
    """Keep one file (a progress bar while it is copied), then import it when it is an AI
    export (the import's own bar)."""
    size = path.stat().st_size if path.is_file() else 0
    with progress.copying(err, f"{path.name} → vault", size) as copying:
        done = exits.record(archive, platform, path, exported_at=exported_at, copying=copying)
    if not no_import and exits.needs_import(done):
        with progress.reading(err, path.name) as importing:
            exits.import_export(archive, done, path, importing)
    return done


def _recorded_json(done: exits.Recorded) -> dict[str, Any]:
    report = done.report.to_json() if done.report else None
    ok = not done.sniffed.problem and not done.import_error and (report is None or report["ok"])
    return {
        "ok": ok,
        "new": done.new,
        "date_moved_from": done.moved_from,
        "added_to_plan": done.added,
        "export": done.export.to_json(),
        "problem": done.sniffed.problem,
        "import": report,
        "import_error": done.import_error,
        "notes": done.notes,
    }


def _print_recorded(done: exits.Recorded) -> None:
    export = done.export
    if done.added:
        out.print(f"{done.added.capitalize()} {export.platform_id} in your exit plan.")
    kind = f"{export.format}, {'open' if export.open else 'NOT in an open format'}"
    head = "Recorded" if done.new else "Already recorded (same content)"
    if done.moved_from:
        head += f", export date now {_day(export.exported_at)} (was {_day(done.moved_from)})"
    out.print(
        Text(
            f"{head}: {export.file_name} for {export.platform_id}, {_size(export.size)}, {kind}, "
            f"exported {_day(export.exported_at)} — vault/{export.sha256[:2]}/{export.sha256}"
        ),
        soft_wrap=True,
    )
    if done.sniffed.not_open:
        shown = ", ".join(done.sniffed.not_open[:5])
        err.print(Text(f"not open: {shown}", style="yellow"), soft_wrap=True)
    if done.sniffed.problem:
        err.print(Text(f"problem: {done.sniffed.problem}", style="bold red"), soft_wrap=True)
    if done.import_error:
        err.print(Text(f"not imported: {done.import_error}", style="bold red"), soft_wrap=True)
    if done.report is not None:
        report = done.report.to_json()
        out.print(render.import_report(report))
        print_problems(report)
    for note in done.notes:
        err.print(Text(f"note: {note}", style="yellow"), soft_wrap=True)


# -- status ----------------------------------------------------------------------------------------


@exits_group.command()
@json_option
def status(as_json: bool) -> None:
    """What is overdue in your exit plan, and which exports are not usable or not open.

    Exits 1 when an export is overdue (none usable recorded yet counts) or the newest one
    recorded is not usable (cut short, damaged, not imported), so a scheduled job can tell.
    """
    with _reading() as archive:
        found = exits.status(archive) if archive else []
    if as_json:
        print_json(
            {
                "platforms": [s.to_json() for s in found],
                "overdue": [s.entry.id for s in found if s.overdue],
                "unusable": [s.entry.id for s in found if s.unusable],
                "not_open": [s.entry.id for s in found if s.not_open],
            }
        )
    else:
        _print_status(found)
    if any(s.needs_action for s in found):
        raise click.exceptions.Exit(1)


def _print_status(found: list[exits.Status]) -> None:
    if not found:
        tell(_empty_plan())  # a message, not a status: on stderr, as `exits list` says it
        return
    for state in found:
        out.print(_status_line(state), soft_wrap=True)
    for state in found:
        for unusable in state.unusable:
            out.print(_unusable_line(state, unusable), soft_wrap=True)
    for state in (s for s in found if s.not_open):
        latest = state.latest
        assert latest is not None
        members = (latest.contents or {}).get("not_open") or []
        which = f": {', '.join(members[:5])}" if members else ""
        out.print(
            Text(
                f"not open: {state.entry.name} — {latest.file_name} ({latest.format}){which}; "
                "look for an export in an open format (freehold exits show "
                f"{state.entry.id})",
                style="yellow",
            ),
            soft_wrap=True,
        )
    overdue = sum(s.overdue for s in found)
    summary = f"{overdue} of {progress.plural(len(found), 'platform')} overdue"
    failed = sum(bool(s.unusable) for s in found)
    summary += f"; {failed} with a newer export not usable" if failed else ""
    out.print(Text(summary, style="bold red" if overdue or failed else "bold green"))


def _status_line(state: exits.Status) -> Text:
    name = state.entry.name
    if state.latest is None:
        never = "no usable export recorded yet" if state.unusable else "no export recorded yet"
        return Text(f"overdue: {name} — {never}", style="bold red")
    last = f"last export {_day(state.latest.exported_at)}"
    if state.overdue:
        return Text(
            f"overdue: {name} — {last}, due {state.due.date()} "
            f"({progress.plural(state.days_overdue, 'day')} late)",
            style="bold red",
        )
    return Text(f"ok: {name} — {last}, next due {state.due.date()}")


def _unusable_line(state: exits.Status, failed: exits.Unusable) -> Text:
    export = failed.export
    return Text(
        f"not usable: {state.entry.name} — {export.file_name} (exported "
        f"{_day(export.exported_at)}) does not count as an export: {failed.why}",
        style="bold red",
    )
