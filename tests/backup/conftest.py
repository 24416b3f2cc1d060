"""Backup fixtures: a sample archive and an identity made once per session, copied into each
test's data folder; real destinations: a folder, and ``rclone serve s3|sftp|webdav`` on
127.0.0.1 (the storage a remote destination reaches), each test in its own path there.

``Place.backing`` is the folder where the server keeps a destination's files (to look at
them; the tests tamper through the server, as anyone holding the storage's keys could).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from freehold.backup import crypto, settings
from freehold.backup.destinations import rclone_binary

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from genexport import generate  # noqa: E402

SAMPLE = REPO / "examples" / "sample-chatgpt-export.zip"
SAMPLE_2026 = REPO / "examples" / "sample-chatgpt-export-2026.zip"
PASSPHRASE = "correct horse battery staple"
# A folder and S3 in every run; SFTP and WebDAV, the same rclone path over other servers, in
# the slow tier (`pytest -m slow`, which .ci/run also runs): the default run stays under ten
# minutes on two cores.
KINDS = [
    "folder",
    "s3",
    pytest.param("sftp", marks=pytest.mark.slow),
    pytest.param("webdav", marks=pytest.mark.slow),
]
_S3_KEY, _S3_SECRET = "freeholdtestkey", "freeholdtestsecret123"


def freehold(
    *args: str, home: Path, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real ``freehold`` command, in a child process, on ``home``."""
    environment = {**os.environ, "FREEHOLD_HOME": str(home), **env}
    done = subprocess.run(
        [sys.executable, "-m", "freehold", *args], env=environment, capture_output=True, text=True
    )
    if check and done.returncode != 0:
        raise AssertionError(f"freehold {' '.join(args)} failed:\n{done.stderr}")
    return done


@dataclass(frozen=True)
class Templates:
    archive: Path  # a data folder holding the sample archive
    keys: Path  # a data folder holding backup/identity.age and backup/mac.key
    kit: Path
    recipient: str


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    root = tmp_path_factory.mktemp("backup-templates")
    archive = root / "archive"
    freehold("import", str(SAMPLE), home=archive)
    keys = root / "keys"
    identity = crypto.create_identity(keys, PASSPHRASE)
    kit = root / "kit.txt"
    kit.write_text(crypto.kit_text(identity, keys), encoding="utf-8")
    return Templates(archive, keys, kit, str(identity.to_public()))


@pytest.fixture(scope="session")
def medium_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding a 20 MB generated export (~1,000 conversations, ~24 MB)."""
    root = tmp_path_factory.mktemp("medium")
    export = root / "export.zip"
    generate(export, target_bytes=20_000_000, layout="single", seed=3)
    freehold("import", str(export), home=root / "home")
    return root / "home"


@pytest.fixture
def medium(home: Path, medium_archive: Path) -> Path:
    """``home`` with the medium archive in place of the sample."""
    shutil.rmtree(home / "blobs")
    (home / "archive.sqlite").unlink()
    shutil.copytree(medium_archive, home, dirs_exist_ok=True)
    return home


@pytest.fixture
def home(_isolated_home: Path, templates: Templates) -> Path:
    """This test's data folder: the sample archive, the identity, the kit confirmed."""
    shutil.copytree(templates.archive, _isolated_home)
    shutil.copytree(templates.keys / "backup", _isolated_home / "backup")
    settings.set_value(_isolated_home, "recipients", [templates.recipient])
    settings.set_value(_isolated_home, "kit_saved", "2026-12-06T09:00:00+00:00")
    return _isolated_home


@pytest.fixture
def identity(templates: Templates) -> crypto.Identity:
    return crypto.identity_from_file(templates.kit)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone serve exited: {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"rclone serve did not listen on {port}")


@dataclass(frozen=True)
class Servers:
    s3: Path
    sftp: Path
    webdav: Path


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """``rclone serve`` for S3, SFTP and WebDAV on 127.0.0.1, and rclone remotes for them
    (``fhs3:``, ``fhsftp:``, ``fhdav:``) configured by environment variables, as a user may."""
    root = tmp_path_factory.mktemp("servers")
    folders = Servers(root / "s3", root / "sftp", root / "webdav")
    folders.s3.mkdir()
    folders.sftp.mkdir()
    folders.webdav.mkdir()
    rclone = rclone_binary()
    password = subprocess.run(
        [rclone, "obscure", "pw"], capture_output=True, text=True, check=True
    ).stdout.strip()
    ports = {kind: _free_port() for kind in ("s3", "sftp", "webdav")}
    auth = {
        "s3": ["--auth-key", f"{_S3_KEY},{_S3_SECRET}"],
        "sftp": ["--user", "fh", "--pass", "pw"],
        "webdav": ["--user", "fh", "--pass", "pw"],
    }
    processes = [
        subprocess.Popen(
            [
                rclone,
                "serve",
                kind,
                "--addr",
                f"127.0.0.1:{port}",
                *auth[kind],
                str(getattr(folders, kind)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for kind, port in ports.items()
    ]
    variables = {
        "RCLONE_CONFIG_FHS3_TYPE": "s3",
        "RCLONE_CONFIG_FHS3_PROVIDER": "Rclone",
        "RCLONE_CONFIG_FHS3_ENDPOINT": f"http://127.0.0.1:{ports['s3']}",
        "RCLONE_CONFIG_FHS3_ACCESS_KEY_ID": _S3_KEY,
        "RCLONE_CONFIG_FHS3_SECRET_ACCESS_KEY": _S3_SECRET,
        "RCLONE_CONFIG_FHSFTP_TYPE": "sftp",
        "RCLONE_CONFIG_FHSFTP_HOST": "127.0.0.1",
        "RCLONE_CONFIG_FHSFTP_PORT": str(ports["sftp"]),
        "RCLONE_CONFIG_FHSFTP_USER": "fh",
        "RCLONE_CONFIG_FHSFTP_PASS": password,
        "RCLONE_CONFIG_FHSFTP_KNOWN_HOSTS_FILE": "none",
        "RCLONE_CONFIG_FHDAV_TYPE": "webdav",
        "RCLONE_CONFIG_FHDAV_URL": f"http://127.0.0.1:{ports['webdav']}",
        "RCLONE_CONFIG_FHDAV_USER": "fh",
        "RCLONE_CONFIG_FHDAV_PASS": password,
    }
    os.environ.update(variables)
    try:
        for process, port in zip(processes, ports.values(), strict=True):
            _wait_for(port, process)
        yield folders
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for name in variables:
            os.environ.pop(name, None)


@dataclass(frozen=True)
class Place:
    """A destination for one test: its URL, and the folder that really holds its files."""

    kind: str
    url: str
    backing: Path


def make_place(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Place:
    if kind == "folder":
        return Place(kind, str(tmp_path / "usb"), tmp_path / "usb")
    served: Servers = request.getfixturevalue("servers")
    unique = uuid.uuid4().hex[:12]
    if kind == "s3":  # a bucket of its own: a bucket is listed whole
        (served.s3 / unique).mkdir()
        return Place(kind, f"fhs3:{unique}/backup", served.s3 / unique / "backup")
    root = served.sftp if kind == "sftp" else served.webdav
    return Place(kind, f"fh{'sftp' if kind == 'sftp' else 'dav'}:{unique}", root / unique)


@pytest.fixture(params=KINDS)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """Each kind of destination in turn."""
    return make_place(request.param, tmp_path, request)


@pytest.fixture
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    return make_place("folder", tmp_path, request)
