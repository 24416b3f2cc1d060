"""``[backup]`` in ``$FREEHOLD_HOME/config.toml``: recipients, retention, destinations.

::

    [backup]
    recipients = ["age1…"]          # the identity's own (written by init), plus any others
    kit_saved = "2026-12-06T09:30:00+00:00"   # when the recovery kit was confirmed saved
    pack_kib = 8192                 # pack size: bigger, fewer files; smaller, less re-sent
    [backup.keep]                   # retention (prune); these are the defaults
    daily = 7
    weekly = 4
    monthly = 12
    [backup.destinations.usb]
    url = "/media/me/usb/freehold"  # a folder: a local folder or an external disk
    [backup.destinations.b2]
    url = "b2:my-bucket/freehold"   # anything else is an rclone remote (rclone config)
    offsite = true                  # optional; by default folders are on site, remotes off

Only the ``[backup]`` table is read and written here (tomllib reads, tomlkit writes, so the
rest of the file keeps its comments and layout); secrets are never stored in it. The file is
written whole to a temporary file and renamed, 0600.

The table's shape is declared once, as pydantic models (``_Backup`` and the tables in it),
strict and closed: a value of the wrong type or range, a table where a value belongs (or the
reverse), and a key no model declares are all refused when the file is read, whatever command
or page reads it, with one line naming config.toml, the key (``backup.destinations.usb.url``)
and what to write — "did you mean offsite?" for a misspelt key, the way ``freehold.config``
answers for providers and the router. Each field's description is that "what to write".
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import ErrorDetails
from tomlkit.items import Table

from freehold import _private
from freehold.backup.format import PACK_TARGET
from freehold.errors import BackupError

__all__ = [
    "BackupSettings",
    "DestinationConfig",
    "Retention",
    "add_destination",
    "config_path",
    "load",
    "set_value",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class DestinationConfig:
    name: str
    url: str
    offsite: bool | None = None  # None: a folder is on site, an rclone remote off site


@dataclass(frozen=True, slots=True)
class Retention:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


@dataclass(frozen=True, slots=True)
class BackupSettings:
    recipients: tuple[str, ...] = ()
    destinations: dict[str, DestinationConfig] = field(default_factory=dict)
    keep: Retention = Retention()
    kit_saved: str | None = None
    pack_bytes: int = PACK_TARGET


def config_path(home: Path) -> Path:
    return home / "config.toml"


class _Table(BaseModel):
    """A table of ``[backup]``: every key declared, every value of its own type (strict: no
    ``"3"`` for 3, no ``true`` for 1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


_COUNT = Field(ge=0, description="a whole number, 0 or more")
_KEEP = Retention()


class _Keep(_Table):
    daily: Annotated[int, _COUNT] = _KEEP.daily
    weekly: Annotated[int, _COUNT] = _KEEP.weekly
    monthly: Annotated[int, _COUNT] = _KEEP.monthly


class _Destination(_Table):
    url: Annotated[
        str,
        Field(
            min_length=1,
            description='a folder path or an rclone remote in quotes: url = "/media/me/usb"',
        ),
    ]
    offsite: Annotated[bool | None, Field(description="true or false")] = None


_DestinationName = Annotated[str, StringConstraints(pattern=_NAME.pattern)]


class _Backup(_Table):
    recipients: Annotated[
        list[str], Field(description='a list of age1… public keys: recipients = ["age1…"]')
    ] = []
    kit_saved: Annotated[
        str | datetime | date | None, Field(description="a date (init writes it)")
    ] = None
    pack_kib: Annotated[
        int, Field(ge=1, le=1 << 20, description="a whole number of KiB, 1 to 1048576")
    ] = PACK_TARGET >> 10
    keep: Annotated[
        _Keep, Field(description="a table: [backup.keep] with daily, weekly, monthly")
    ] = _Keep()
    destinations: Annotated[
        dict[_DestinationName, _Destination],
        Field(description='tables: [backup.destinations.NAME] with url = "…"'),
    ] = {}


def load(home: Path) -> BackupSettings:
    path = config_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BackupSettings()
    except (OSError, UnicodeDecodeError) as error:
        raise BackupError(f"{path}: cannot be read ({error}) — fix or remove the file") from error
    table = _checked(path, text)
    return BackupSettings(
        tuple(table.recipients),
        {n: DestinationConfig(n, d.url, d.offsite) for n, d in table.destinations.items()},
        Retention(table.keep.daily, table.keep.weekly, table.keep.monthly),
        _text(table.kit_saved) or None,
        table.pack_kib << 10,
    )


def _checked(path: Path, text: str) -> _Backup:
    """The ``[backup]`` table of ``text``, checked whole; ``BackupError`` at the first fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BackupError(f"{path}: cannot be read ({error}) — fix that line") from error
    try:
        return _Backup.model_validate(data.get("backup", {}))
    except ValidationError as error:
        raise BackupError(_problem(path, error.errors()[0])) from error


def _problem(path: Path, error: ErrorDetails) -> str:
    """One line: config.toml, the key as written in it, what is wrong and what to write."""
    loc = error["loc"] or ("",)  # the [backup] table itself
    key = "backup" + "".join(
        f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc if p not in ("", "[key]")
    )
    if error["type"] == "extra_forbidden":
        known = sorted(_holder(loc).model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        todo = f"did you mean {close[0]}?" if close else f"use one of: {', '.join(known)}"
        return f"{path}: {key} is not a backup setting — {todo}"
    if loc[-1] == "[key]":
        return (
            f"{path}: {key}: a destination name is letters, digits, - and _ (up to 32) — "
            "rename the table"
        )
    wanted = _wanted(loc)
    if error["type"] == "missing":
        return f"{path}: {key} is missing — add {wanted}"
    return f"{path}: {key} is {_shown(error['input'])} — write {wanted} (docs/backups.md)"


def _shown(value: object) -> str:
    """A value as it is written in the file (``true``, ``"x"``), cut short."""
    text = "a table" if isinstance(value, dict) else tomlkit.item(value).as_string()
    return text if len(text) <= 40 else text[:39] + "…"


def _text(value: str | date | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _holder(loc: tuple[int | str, ...]) -> type[_Table]:
    """The table that holds the key at ``loc`` (the tables nest at fixed places)."""
    if loc[:1] == ("keep",) and len(loc) > 1:
        return _Keep
    if loc[:1] == ("destinations",) and len(loc) > 2:
        return _Destination
    return _Backup


def _wanted(loc: tuple[int | str, ...]) -> str:
    """What belongs at ``loc``: its field's description."""
    names = [p for p in loc if isinstance(p, str) and p]
    if not names:
        return "a table: [backup]"
    if names[0] == "destinations" and len(names) == 2:
        return f'a table: [backup.destinations.{names[1]}] with url = "…"'
    described = _holder(loc).model_fields[names[-1]].description
    return described or "what docs/backups.md shows"


def _edit(home: Path, change: Callable[[Table], None]) -> None:
    """``change`` the ``[backup]`` table; the file is checked before and after, so a broken
    file is refused (as ``load`` refuses it) and never written."""
    load(home)
    path = config_path(home)
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = tomlkit.document()
    backup = document.get("backup")
    if backup is None:
        backup = tomlkit.table()
        document["backup"] = backup
    change(backup)
    text = tomlkit.dumps(document)
    _checked(path, text)
    _private.replace(path, text.encode())


def set_value(home: Path, key: str, value: str | list[str]) -> None:
    def change(backup: Table) -> None:
        backup[key] = value

    _edit(home, change)


def add_destination(home: Path, name: str, url: str, offsite: bool | None) -> None:
    if not _NAME.match(name):
        raise BackupError(
            f"{name!r}: a destination name is letters, digits, - and _ (up to 32) — pick another"
        )
    if name in load(home).destinations:
        raise BackupError(f"a destination named {name} exists already — pick another name")

    def change(backup: Table) -> None:
        destinations = backup.get("destinations")
        if destinations is None:
            destinations = tomlkit.table(is_super_table=True)
            backup["destinations"] = destinations
        entry = tomlkit.table()
        entry["url"] = url
        if offsite is not None:
            entry["offsite"] = offsite
        destinations[name] = entry

    _edit(home, change)
