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
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
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


def load(home: Path) -> BackupSettings:
    path = config_path(home)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return BackupSettings()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BackupError(f"{path}: cannot be read ({error}) — fix that line") from error
    table = data.get("backup", {})
    try:
        return _settings(table)
    except (TypeError, ValueError, KeyError) as error:
        raise BackupError(f"{path}: [backup] {error} — fix it or see docs/backups.md") from error


def _settings(table: dict[str, Any]) -> BackupSettings:
    recipients = table.get("recipients", [])
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise TypeError("recipients must be a list of age1… strings")
    keep = table.get("keep", {})
    retention = Retention(**{k: _count(k, v) for k, v in keep.items()})
    destinations = {
        name: _destination(name, value) for name, value in table.get("destinations", {}).items()
    }
    saved = table.get("kit_saved")
    pack_kib = table.get("pack_kib", PACK_TARGET >> 10)
    if not isinstance(pack_kib, int) or not 1 <= pack_kib <= 1 << 20:
        raise ValueError("pack_kib must be a whole number of KiB, 1 to 1048576")
    return BackupSettings(
        tuple(recipients), destinations, retention, str(saved) if saved else None, pack_kib << 10
    )


def _count(key: str, value: object) -> int:
    if key not in ("daily", "weekly", "monthly") or not isinstance(value, int) or value < 0:
        raise ValueError(f"keep.{key} must be daily, weekly or monthly, a count ≥ 0")
    return value


def _destination(name: str, value: dict[str, Any]) -> DestinationConfig:
    if not isinstance(value.get("url"), str):
        raise KeyError(f"destinations.{name} has no url")
    offsite = value.get("offsite")
    if offsite is not None and not isinstance(offsite, bool):
        raise TypeError(f"destinations.{name}.offsite must be true or false")
    return DestinationConfig(name, value["url"], offsite)


def _edit(home: Path, change: Callable[[Table], None]) -> None:
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
    _private.make_dirs(home)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with _private.open_new(tmp) as out:
        out.write(tomlkit.dumps(document).encode())
    os.replace(tmp, path)


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
