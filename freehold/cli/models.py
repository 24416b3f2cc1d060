"""``freehold models``: what each provider serves now beside the pins in use, and
``freehold models check``, the offline judgement of those pins for a scheduled job."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click
from rich.table import Table as RichTable

from freehold import lifecycle, pins
from freehold.cli._base import json_option, out, print_json
from freehold.config import ProviderConfig, load_config
from freehold.errors import FreeholdError
from freehold.providers.base import connect

__all__ = ["check_command", "models"]


class _Listing:
    """A provider opened for one model list and closed after it."""

    def __init__(self, settings: ProviderConfig) -> None:
        self.settings = settings

    def list_models(self) -> list[str]:
        with connect(self.settings) as provider:
            return provider.list_models()


def open_provider(settings: ProviderConfig) -> pins.Lister:
    return _Listing(settings)


_STYLE = {"retired": "red", "retiring": "red", "deprecated": "yellow", "unknown": "dim"}


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """What each configured provider serves now, beside the pins, aliases and routes in use:
    whether each is pinned, served, deprecated, retiring or retired (the lifecycle table).

    Asks each provider for its model list, one request each; one that cannot be reached is
    shown with its error. 'freehold models check' judges the pins without the network.
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        states = pins.inventory(load_config(), open_provider=open_provider)
        table = lifecycle.load_table()
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        print_json(
            {"lifecycle_table": _table_json(table), "providers": [s.to_json() for s in states]}
        )
        return
    out.print(_provenance(table))
    if not states:
        out.print("No providers in config.toml: add one with 'freehold providers add'.")
    for state in states:
        _print_state(state)


@models.command("check")
@json_option
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Judge the pins as of this day (default today), e.g. a day next quarter.",
)
def check_command(as_json: bool, on: datetime | None) -> None:
    """Exit 1 when a pin in use (in an alias or a route) is retired, retires within 60 days or
    is deprecated, naming each, its dates, source and the vendor's replacement.

    For a scheduled job: reads config.toml and the lifecycle table only, no network. A pin the
    table does not know is listed as unknown (not safe) without failing; freehold never swaps
    a pin.
    """
    today = on.date() if on else date.today()
    try:
        found = pins.pins(load_config(), today=today)
        table = lifecycle.load_table()
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    failing = [pin for pin in found if pin.fails]
    if as_json:
        print_json(
            {
                "ok": not failing,
                "on": today.isoformat(),
                "lifecycle_table": _table_json(table),
                "pins": [pin.to_json() for pin in found],
            }
        )
    else:
        _print_check(found, failing, table)
    if failing:
        raise click.exceptions.Exit(1)


def _print_check(found: list[pins.Pin], failing: list[pins.Pin], table: lifecycle.Table) -> None:
    out.print(_provenance(table), soft_wrap=True)
    if not found:
        out.print("No pins in use: config.toml has no aliases or routes.")
        return
    for pin in found:
        line = f"{pin.status:<10} {pin.ref}  ({', '.join(pin.places)})"
        out.print(line, style=_STYLE.get(pin.status), soft_wrap=True)
        for warning in pin.warnings:
            out.print(f"    {warning.message}", style=_STYLE.get(warning.kind), soft_wrap=True)
    unknown = sum(1 for pin in found if pin.status == "unknown")
    verdict = (
        f"{len(failing)} of {len(found)} pins need a move"
        if failing
        else "no pin is retired, retiring or deprecated"
    )
    out.print(f"{verdict}{f'; {unknown} unknown to the table' if unknown else ''}.")


def _print_state(state: pins.ProviderState) -> None:
    kind = f" ({state.kind}{', ' + state.base_url if state.base_url else ''})" if state.kind else ""
    serves = f"serves {len(state.served)} models now" if state.served is not None else ""
    out.print(f"\n{state.name}{kind}: {serves or 'what it serves is unknown'}", style="bold")
    if state.error:
        out.print(f"  {state.error}", style="yellow")
    if state.pins:
        out.print(_pin_table(state.pins))
        for pin in state.pins:
            for warning in pin.warnings:
                out.print(f"  {warning.message}", style=_STYLE.get(warning.kind), soft_wrap=True)
    else:
        out.print("  no alias or route uses this provider")
    if state.served:
        out.print("  Serves now: " + ", ".join(state.served), overflow="fold")


def _pin_table(found: tuple[pins.Pin, ...]) -> RichTable:
    grid = RichTable(box=None, padding=(0, 2), pad_edge=True)
    for header in ("model", "used in", "pinned", "served now", "lifecycle"):
        grid.add_column(header, overflow="fold")
    served = {True: "yes", False: "NO", None: "?"}
    for pin in found:
        grid.add_row(
            pin.model_id,
            ", ".join(pin.places),
            "yes" if pin.pinned else "no",
            served[pin.served],
            pin.status,
            style=_STYLE.get(pin.status),
        )
    return grid


def _provenance(table: lifecycle.Table) -> str:
    sources = ", ".join(f"{s['name']} {s['version']} ({s['snapshot']})" for s in table.sources)
    mine = f"; your rows: {table.user_file}" if table.user_file else ""
    return f"Lifecycle table built {table.built} from {sources}{mine}."


def _table_json(table: lifecycle.Table) -> dict[str, Any]:
    return {
        "built": table.built,
        "sources": table.sources,
        "user_file": str(table.user_file) if table.user_file else None,
    }
