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
from types import UnionType
from typing import Annotated, Union, get_args, get_origin

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.fields import FieldInfo
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
    "remove_destination",
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
        dict[
            _DestinationName,
            Annotated[
                _Destination,
                Field(description='a table: [backup.destinations.NAME] with url = "…"'),
            ],
        ],
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
    place = _place(error["loc"])
    if error["type"] == "extra_forbidden":
        known = sorted(place.holder.model_fields)
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        todo = f"did you mean {close[0]}?" if close else f"use one of: {', '.join(known)}"
        return f"{path}: {place.key} is not a backup setting — {todo}"
    if place.names_table:
        return (
            f"{path}: {place.key}: a destination name is letters, digits, - and _ (up to 32) — "
            "rename the table"
        )
    if error["type"] == "missing":
        return f"{path}: {place.key} is missing — add {place.wanted}"
    # Any other type pydantic gives (wrong type, out of range, too short, bad pattern, …):
    # the value as written and what belongs there; pydantic's own wording is not shown.
    return (
        f"{path}: {place.key} is {_shown(error['input'])} — write {place.wanted} (docs/backups.md)"
    )


@dataclass(frozen=True, slots=True)
class _Place:
    key: str  # as written in the file: backup.destinations.usb.url, backup.recipients[1]
    holder: type[BaseModel]  # the table the key is in (for "did you mean")
    wanted: str  # what belongs there: the description of the nearest field
    names_table: bool  # the fault is a table's name (a destination's), not a value


def _place(loc: tuple[int | str, ...]) -> _Place:
    """Where pydantic's ``loc`` points in the file, found by walking the models' annotations
    along it, so each part is read as what it is: a field, a table's name, an array index,
    or a union's member tag (``("kit_saved", "str")``), which is no part of the key."""
    key, wanted = "backup", "a table: [backup]"
    names_table: bool | None = False
    holder: type[BaseModel] = _Backup
    shape: object = _Backup
    for part in loc:
        if part == "[key]" and names_table is None:
            names_table = True  # pydantic's marker: the fault is the table's name just passed
            continue
        names_table = names_table or False
        shape, described = _unwrapped(shape)
        wanted = described or wanted
        origin = get_origin(shape)
        if isinstance(shape, type) and issubclass(shape, BaseModel):
            holder, key = shape, f"{key}.{part}"
            info = shape.model_fields.get(str(part))
            shape = info.annotation if info else None  # None: a key no model declares
            wanted = info.description if info and info.description else wanted
        elif origin is dict:  # a table of named tables: the name as TOML writes it
            key, shape = f"{key}.{tomlkit.key(str(part)).as_string()}", get_args(shape)[1]
            names_table = None  # a "[key]" may follow
        elif origin is list:
            key, shape = f"{key}[{part}]", get_args(shape)[0]
        elif origin not in (Union, UnionType):  # a union's parts are member tags: skipped
            key, shape = f"{key}.{part}" if isinstance(part, str) else f"{key}[{part}]", None
    return _Place(key, holder, _unwrapped(shape)[1] or wanted, bool(names_table))


def _unwrapped(shape: object) -> tuple[object, str | None]:
    """``Annotated[T, Field(description=…)]`` as ``T`` and the description."""
    if get_origin(shape) is not Annotated:
        return shape, None
    inner, *extras = get_args(shape)
    infos = [e.description for e in extras if isinstance(e, FieldInfo) and e.description]
    return inner, infos[-1] if infos else None


def _shown(value: object) -> str:
    """A value as it is written in the file (``true``, ``"x"``), on one line, cut short."""
    text = "a table" if isinstance(value, dict) else _inline(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _inline(value: object) -> str:
    """TOML for ``value`` on one line: arrays and tables inline (tomlkit would write an array
    of tables as ``[[…]]`` sections)."""
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{tomlkit.key(str(k)).as_string()} = {_inline(v)}" for k, v in value.items()
            )
            + "}"
        )
    return tomlkit.item(value).as_string()


def _text(value: str | date | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


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


def remove_destination(home: Path, name: str) -> DestinationConfig:
    """Take destination ``name`` out of config.toml; returns what it was."""
    found = load(home).destinations.get(name)
    if found is None:
        known = ", ".join(load(home).destinations) or "none"
        raise BackupError(f"no destination named {name} (there are: {known})")

    def change(backup: Table) -> None:
        destinations = backup["destinations"]
        assert isinstance(destinations, dict)
        del destinations[name]
        if not destinations:
            del backup["destinations"]

    _edit(home, change)
    return found
