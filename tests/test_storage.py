"""When the archive's own storage fails (``freehold/storage.py``): busy, full, not writable.

Real failures, no mocks: a second SQLite connection holds a write transaction; a full disk is
a file-size limit (``RLIMIT_FSIZE``, with SIGXFSZ ignored so that the write fails with EFBIG)
set in a child process that runs the ``freehold`` command; a read-only folder is ``chmod``,
with the root's power to ignore it dropped (``setpriv``) when the tests run as root.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from freehold import _sqlite
from freehold.archive import write_blob
from freehold.backup.state import open_state
from freehold.cli import cli
from freehold.errors import FreeholdError
from tests.builders import chatgpt_chats

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample-chatgpt-export.zip"
_NO_CAPS = "-dac_override,-dac_read_search,-fowner"


def freehold(
    *args: str, limit: int | None = None, unprivileged: bool = False, home: Path
) -> subprocess.CompletedProcess[str]:
    """The ``freehold`` command in a child process, under a file-size limit if given."""

    def limited() -> None:
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not death
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set", _NO_CAPS, "--inh-caps", _NO_CAPS]
    env = {**os.environ, "FREEHOLD_HOME": str(home), "COLUMNS": "300"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "freehold", *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=limited,
        timeout=300,
        check=False,
    )


def one_line_error(result: Any, *words: str) -> str:
    """The error a command ended with: one line, no traceback, non-zero exit."""
    code = getattr(result, "returncode", None)
    assert (result.exit_code if code is None else code) != 0
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert "restore a backup" not in errors[0]
    return errors[0]


@pytest.fixture
def imported(_isolated_home: Path) -> Path:
    result = CliRunner().invoke(cli, ["import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    return _isolated_home


@pytest.fixture
def unprivileged() -> None:
    """Permissions hold for this process's children: not root, or root without its powers."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be tested")


@pytest.fixture
def held(imported: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Another program holds a write transaction on the archive; freehold waits 0.2 s."""
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT", 0.2)
    other = sqlite3.connect(imported / "archive.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield imported / "archive.sqlite"
    other.execute("ROLLBACK")
    other.close()


def test_a_busy_archive_is_one_line_for_import_and_exits_add(held: Path, tmp_path: Path) -> None:
    export = chatgpt_chats(tmp_path / "new.zip", {"n1": ("New", ["hi", "hello"])}, 1.7e9)
    for args in (["import", str(export)], ["exits", "add", "chatgpt"]):
        result = CliRunner().invoke(cli, args)
        one_line_error(result, "the archive is busy", str(held), "database is locked", "try again")


def test_reading_a_busy_archive_works(held: Path) -> None:
    result = CliRunner().invoke(cli, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["conversations"] > 0


def test_a_read_only_data_folder_is_read(
    imported: Path, unprivileged: None, tmp_path: Path
) -> None:
    cid = json.loads(CliRunner().invoke(cli, ["search", "the", "--json"]).stdout)[0]
    imported.chmod(0o500)
    try:
        stats = freehold("stats", "--json", home=imported, unprivileged=True)
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["conversations"] > 0
        search = freehold("search", "the", home=imported, unprivileged=True)
        assert search.returncode == 0, search.stderr
        show = freehold("show", cid["conversation_id"], home=imported, unprivileged=True)
        assert show.returncode == 0, show.stderr
        out = tmp_path / "md"
        export = freehold(
            "export", "--format", "markdown", "--out", str(out), home=imported, unprivileged=True
        )
        assert export.returncode == 0, export.stderr
        assert (out / "index.md").is_file()
        again = freehold("import", str(SAMPLE), home=imported, unprivileged=True)
        one_line_error(again, "is not writable", str(imported))
        assert sorted(os.listdir(imported)) == ["archive.sqlite", "blobs"]  # nothing written
    finally:
        imported.chmod(0o700)


def test_a_read_only_archive_file_is_one_line_for_writes(
    imported: Path, unprivileged: None
) -> None:
    database = imported / "archive.sqlite"
    database.chmod(0o400)
    try:
        for args in (["import", str(SAMPLE)], ["exits", "add", "chatgpt"]):
            result = freehold(*args, home=imported, unprivileged=True)
            one_line_error(result, "is not writable", str(database))
    finally:
        database.chmod(0o600)


def _folders_mode(top: Path, mode: int) -> None:
    """``top`` and every folder in it: the blob store read-only as a whole. Only ``blobs``
    itself left a random blob's sub-folder writable when the sample had made it already (8 of
    256), and the import then wrote it: the test passed or failed by chance."""
    for folder in [top, *(p for p in top.rglob("*") if p.is_dir())]:
        folder.chmod(mode)


def _with_attachment(path: Path, size: int) -> Path:
    """A ChatGPT export whose one message shows a file of ``size`` random bytes."""
    image = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Big1"}
    message = {
        "id": "u1",
        "author": {"role": "user", "name": None, "metadata": {}},
        "create_time": 1.7e9,
        "content": {"content_type": "multimodal_text", "parts": [image, "look"]},
    }
    conversation = {
        "id": "big-conv",
        "title": "A big file",
        "create_time": 1.7e9,
        "current_node": "u1",
        "mapping": {"u1": {"id": "u1", "message": message, "parent": None, "children": []}},
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conversation]))
        archive.writestr("user.json", '{"id": "user-big"}')
        archive.writestr("file-Big1-big.bin", os.urandom(size))
    return path


def _statuses(home: Path) -> list[str]:
    with sqlite3.connect(home / "archive.sqlite") as db:
        return [row[0] for row in db.execute("SELECT status FROM sources ORDER BY id")]


def test_a_full_disk_under_an_attachment_stops_the_import(imported: Path, tmp_path: Path) -> None:
    export = _with_attachment(tmp_path / "big.zip", 3 << 20)
    result = freehold("import", str(export), home=imported, limit=2 << 20)
    line = one_line_error(result, "no space left for", "File too large", "free space")
    assert str(imported / "blobs") in line
    assert "attachment unreadable" not in result.stderr + result.stdout
    assert _statuses(imported)[-1] == "failed"
    assert os.listdir(imported / "blobs" / "tmp") == []  # the partial blob went


def test_a_read_only_blob_folder_stops_the_import(
    imported: Path, unprivileged: None, tmp_path: Path
) -> None:
    export = _with_attachment(tmp_path / "big.zip", 2 << 20)
    blobs = imported / "blobs"
    _folders_mode(blobs, 0o500)
    try:
        result = freehold("import", str(export), home=imported, unprivileged=True)
    finally:
        _folders_mode(blobs, 0o700)
    one_line_error(result, "is not writable", str(blobs), "Permission denied")
    assert "attachment unreadable" not in result.stderr + result.stdout
    assert _statuses(imported)[-1] == "failed"


def test_import_json_keeps_the_reports_of_the_paths_before_a_storage_failure(
    imported: Path, unprivileged: None, tmp_path: Path
) -> None:
    """Review R1, 5b: with --json, a storage failure on the second path lost the first's
    report (committed) from the output; it is printed before the error."""
    first = chatgpt_chats(tmp_path / "first.zip", {"f1": ("First", ["hi", "hello"])}, 1.7e9)
    second = _with_attachment(tmp_path / "big.zip", 1 << 10)
    blobs = imported / "blobs"
    _folders_mode(blobs, 0o500)
    try:
        result = freehold(
            "import", "--json", str(first), str(second), home=imported, unprivileged=True
        )
    finally:
        _folders_mode(blobs, 0o700)
    error = one_line_error(result, "is not writable", str(blobs))
    report, failed = json.loads(result.stdout)  # every path tried (probe M, item 4)
    assert report["path"].endswith("first.zip") and report["conversations"]["new"] == 1
    assert failed == {"path": str(second), "ok": False, "error": error.removeprefix("Error: ")}


def test_a_full_disk_under_the_database_stops_the_import(imported: Path, tmp_path: Path) -> None:
    chats = {f"c{n}": (f"Chat {n}", [f"question {n} " * 2000, "answer " * 3000]) for n in range(40)}
    export = chatgpt_chats(tmp_path / "many.zip", chats, 1.7e9)
    result = freehold("import", str(export), home=imported, limit=256 << 10)
    one_line_error(result, str(imported / "archive.sqlite"), "free space")
    assert _statuses(imported)[-1] == "failed"


FORMATS = ["markdown", "html", "json", "csv", "jsonl", "openwebui"]


@pytest.mark.parametrize("format_name", FORMATS)
def test_an_export_on_a_full_disk_leaves_no_partial_file(
    imported: Path, tmp_path: Path, format_name: str
) -> None:
    long = {"long": ("Long", ["tell me everything", "word " * 60_000])}
    CliRunner().invoke(cli, ["import", str(chatgpt_chats(tmp_path / "l.zip", long, 1.8e9))])
    out = tmp_path / "out"
    result = freehold(
        "export", "--format", format_name, "--out", str(out), home=imported, limit=200 << 10
    )
    line = one_line_error(result, "no space left for", str(out), "File too large")
    assert ".tmp" not in line  # the file the person asked for is named
    for path in out.rglob("*"):
        assert not path.name.endswith(".tmp"), path
        assert not path.is_file() or path.stat().st_size < 200 << 10, path
    # every file there is whole: a note, a page, a JSON document that parses
    for path in out.glob("*.json"):
        json.loads(path.read_bytes())


@pytest.mark.parametrize("format_name", ["markdown", "html", "pdf"])
def test_a_run_again_removes_what_a_killed_run_left_half_written(
    imported: Path, tmp_path: Path, format_name: str
) -> None:
    """Review R1, 5c: a killed run leaves ``<note>.md.tmp`` and ``attachments/<sha>.tmp``
    (``storage.written``); the next run into that folder removes such names, and only those."""
    out = tmp_path / "out"
    export = ["export", "--format", format_name, "--out", str(out)]
    assert CliRunner().invoke(cli, export).exit_code == 0
    suffix = {"markdown": ".md", "html": ".html", "pdf": ".pdf"}[format_name]
    (out / "attachments").mkdir(exist_ok=True)
    # a note of a conversation no longer exported: this run does not write that name again
    half = [
        out / f"2020-01-01-gone-0123abcd{suffix}.tmp",
        out / "attachments" / f"{'ab' * 32}.png.tmp",
    ]
    left = half if format_name != "pdf" else half[:1]  # a PDF export copies no attachments
    theirs = [*half[len(left) :], out / "mine.txt.tmp", out / "attachments" / "mine.tmp"]
    for path in left + theirs:
        path.write_text("half")
    result = CliRunner().invoke(cli, export)
    assert result.exit_code == 0, result.output
    assert [path for path in left if path.exists()] == []
    assert all(path.exists() for path in theirs)


def test_an_export_under_a_regular_file_is_one_line(imported: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for format_name in ("json", "markdown", "csv"):
        result = CliRunner().invoke(
            cli, ["export", "--format", format_name, "--out", str(afile / "sub")]
        )
        one_line_error(result, str(afile / "sub"), "Not a directory", "give a folder")


def test_a_written_file_is_renamed_into_place_whole(tmp_path: Path) -> None:
    from freehold import storage

    target = tmp_path / "a.txt"
    target.write_text("before")
    with pytest.raises(RuntimeError), storage.written(target, text=True) as handle:
        handle.write("half")
        assert storage.temporary_name(target).is_file()
        raise RuntimeError("cut")
    assert target.read_text() == "before"
    assert os.listdir(tmp_path) == ["a.txt"]


class _Watched:
    """A stream of two 1 MiB chunks that notes what blobs/tmp holds while it is read."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.chunks = [os.urandom(1 << 20), os.urandom(1 << 20)]
        self.seen: list[str] = []

    def read(self, size: int = -1) -> bytes:
        if len(self.chunks) == 1:
            self.seen = os.listdir(self.tmp)
        return self.chunks.pop(0) if self.chunks else b""


def test_a_blob_being_written_is_named_by_its_process(tmp_path: Path) -> None:
    stream = _Watched(tmp_path / "blobs" / "tmp")
    write_blob(tmp_path / "blobs", stream)  # type: ignore[arg-type]
    assert len(stream.seen) == 1
    assert stream.seen[0].startswith("partial.") and f".{os.getpid()}." in stream.seen[0]


def test_an_import_sweeps_what_killed_imports_left(imported: Path) -> None:
    tmp = imported / "blobs" / "tmp"
    tmp.mkdir(exist_ok=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = tmp / f"partial.{gone.stdout.strip()}.0"
    live = tmp / f"partial.{os.getpid()}.7"  # a process alive now: another import's file
    old = tmp / "tmpab12cd"  # an earlier freehold's name, untouched for two days
    young = tmp / "tmpef34gh"
    for path in (dead, live, old, young):
        path.write_bytes(b"x" * 1000)
    two_days_ago = os.stat(old).st_mtime - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    result = CliRunner().invoke(cli, ["import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp)) == sorted([live.name, young.name])


def test_a_temporary_name_with_a_pid_too_big_is_swept(imported: Path) -> None:
    """Review R1, 5a: ``os.kill`` raises OverflowError (not OSError) for a number no pid can
    be: the sweep at every import's start crashed on such a name. No process has it: gone."""
    tmp = imported / "blobs" / "tmp"
    tmp.mkdir(exist_ok=True)
    (tmp / "x.99999999999.1").write_bytes(b"x")
    result = CliRunner().invoke(cli, ["import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert os.listdir(tmp) == []


def test_a_data_folder_that_is_a_file_is_one_line_everywhere(
    _isolated_home: Path, tmp_path: Path
) -> None:
    _isolated_home.parent.mkdir(parents=True, exist_ok=True)
    _isolated_home.write_text("a file")
    for args in (
        ["stats"],
        ["search", "x"],
        ["import", str(SAMPLE)],
        ["providers", "list"],
        ["exits", "status"],
        ["export", "--format", "json", "--out", str(tmp_path / "o")],
    ):
        result = CliRunner().invoke(cli, args)
        line = one_line_error(result, str(_isolated_home), "is a file, not a folder")
        assert "config.toml" not in line, args
    assert _isolated_home.read_text() == "a file"


def test_a_reader_that_stopped_says_to_run_the_command_again() -> None:
    from freehold.errors import FreeholdError
    from freehold.ingest import _receive

    receiver, sender = multiprocessing.Pipe(duplex=False)
    sender.close()  # the reader process is gone: its end of the pipe closed
    with pytest.raises(FreeholdError, match="stopped unexpectedly — run the command again"):
        _receive(receiver, Path("export.zip"))


def test_a_private_file_on_a_full_disk_is_the_storage_line(tmp_path: Path) -> None:
    """config.toml, a report: ``_private.replace`` on a full disk names the file, and the file
    before is left as it was."""
    target = tmp_path / "config.toml"
    target.write_text("before")
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from freehold import _private\n"
        "from freehold.errors import StorageError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    _private.replace(Path(sys.argv[1]), b'x' * 100_000)\n"
        "except StorageError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith(f"no space left for {target} (File too large)"), done.stdout
    assert target.read_text() == "before"
    assert os.listdir(tmp_path) == ["config.toml"]


def _on_a_read_only_mount(
    home: Path, tmp_path: Path, script: str
) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) run with ``home`` mounted read-only at ``$RO``: a real EROFS, in a mount
    namespace of its own (``unshare``, as an unprivileged user through a user namespace);
    skips where the machine allows neither."""
    mounted = tmp_path / "read-only-mount"
    mounted.mkdir()
    mount = f"mount --bind {home} {mounted} && mount -o remount,ro,bind {mounted}"
    probe = ["unshare", "-rm", "sh", "-c", f"{mount} && ! touch {mounted}/probe 2>/dev/null"]
    if shutil.which("unshare") is None or subprocess.run(probe, check=False).returncode:
        pytest.skip("no read-only bind mount possible here (unshare -rm refused)")
    env = {**os.environ, "RO": str(mounted), "FREEHOLD_HOME": str(mounted), "COLUMNS": "300"}
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{mount} && {script}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_writing_on_a_read_only_mount_is_one_line(imported: Path, tmp_path: Path) -> None:
    """Review R1, finding 2: the commands that create an archive (import, exits add) opened an
    existing one read-write on a read-only disk; SQLite fell back to reading, `journal_mode=WAL`
    failed to open the WAL (CANTOPEN), told as "not a usable archive — restore a backup"."""
    python = f"{sys.executable} -m freehold"
    script = (
        f"{python} import {SAMPLE}; echo rc=$?; {python} exits add chatgpt; echo rc=$?; "
        f"{python} stats --json"
    )
    result = _on_a_read_only_mount(imported, tmp_path, script)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout.count("rc=1") == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2, result.stderr
    for error in errors:
        assert "is not writable" in error and "Read-only file system" not in error, error
        assert "restore a backup" not in error
    assert json.loads(result.stdout.rsplit("rc=1", 1)[1])["conversations"] > 0


def test_a_wal_that_cannot_be_opened_on_a_read_only_mount_is_the_storage_line(
    imported: Path, tmp_path: Path
) -> None:
    """SQLite's CANTOPEN for an existing archive in a place that cannot be written is the
    storage line (the archive opened read-write there by anything else than ``Archive``)."""
    code = (
        "import os, pathlib; from freehold import _sqlite; "
        "path = pathlib.Path(os.environ['RO']) / 'archive.sqlite'\n"
        "db = _sqlite.connect(path, read_only=False)\n"
        "try: db.execute('PRAGMA journal_mode=WAL')\n"
        "except Exception as e: print(type(e).__name__, e)"
    )
    result = _on_a_read_only_mount(imported, tmp_path, f'{sys.executable} -c "{code}"')
    assert result.stdout.startswith("StorageError"), result.stdout + result.stderr
    assert "is not writable (unable to open database file)" in result.stdout


def test_backup_status_on_a_read_only_mount_reads(imported: Path, tmp_path: Path) -> None:
    """Review R1, finding 3: `backup status` made its state folder and ended in a traceback
    (EROFS) on a read-only disk; it only reads now, and says there is no backup yet."""
    result = _on_a_read_only_mount(
        imported, tmp_path, f"{sys.executable} -m freehold backup status"
    )
    assert result.returncode == 1  # not ok: no destination, no backup
    assert result.stderr == "", result.stderr
    assert "problem: no backup destination" in result.stdout, result.stdout


def _listing(home: Path) -> list[str]:
    return sorted(str(path.relative_to(home)) for path in home.rglob("*"))


READING = [  # every command that only reads the data folder
    ["stats"],
    ["search", "the"],
    ["show", "c19ee96c229f96f6"],
    ["exits", "list"],
    ["exits", "status"],
    ["exits", "show", "chatgpt"],
    ["backup", "status"],
    ["backup", "destinations"],
    ["backup", "list"],
    ["providers", "list"],
    ["profile", "list"],
    ["models", "check"],
]


def test_a_command_that_only_reads_creates_nothing(imported: Path, tmp_path: Path) -> None:
    """One rule: reading never creates. `backup status` made backup/state.sqlite."""
    before = _listing(imported)
    for args in [*READING, ["export", "--format", "json", "--out", str(tmp_path / "out")]]:
        result = CliRunner().invoke(cli, args)
        assert "Traceback" not in result.output, (args, result.output)
        assert _listing(imported) == before, args


def test_backup_status_reads_the_state_in_a_read_only_data_folder(
    imported: Path, unprivileged: None, tmp_path: Path
) -> None:
    """`backup status` opened the state read-write: a traceback (SQLite's "attempt to write a
    readonly database") in a folder it may only read; it reads the last run there now."""
    assert CliRunner().invoke(cli, ["backup", "add", "here", str(tmp_path / "dest")]).exit_code == 0
    state = open_state(imported)
    state.record("run", "here", True, "20261207T000000Z-abcd")
    state.close()
    before = _listing(imported)
    for folder in (imported, *(path for path in imported.rglob("*") if path.is_dir())):
        folder.chmod(0o500)
    try:
        result = freehold("backup", "status", "--json", home=imported, unprivileged=True)
    finally:
        for folder in (imported, *(path for path in imported.rglob("*") if path.is_dir())):
            folder.chmod(0o700)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["destinations"][0]["last_run"]["snapshot"] == "20261207T000000Z-abcd"
    assert _listing(imported) == before


def test_an_archive_changed_under_a_read_only_reader_says_run_again(imported: Path) -> None:
    """Review R1, finding 4: a read-only folder is not proof that nobody writes the archive (a
    read-only bind mount of a live archive, another user's archive): read as ``immutable``, a
    change under the reader can be SQLite's "malformed", which is not a damaged archive."""
    path = imported / "archive.sqlite"
    reader = _sqlite.connect(path, read_only=True)
    assert reader.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    size = path.stat().st_size
    with path.open("r+b") as rewritten:  # another program's writes, as seen by this reader
        rewritten.seek(4096)
        rewritten.write(b"\xff" * (size - 4096))
    with pytest.raises(FreeholdError) as raised:
        reader.execute("SELECT text FROM messages ORDER BY id DESC").fetchall()
    assert "changed while it was read read-only" in str(raised.value)
    assert "run again" in str(raised.value) and "restore a backup" not in str(raised.value)
    reader.close()


def test_rows_fetched_after_the_archive_changed_under_a_read_only_reader_say_run_again(
    imported: Path,
) -> None:
    """An error met while rows are fetched (SQLite reads most pages then, not at ``execute``)
    is told as one met at ``execute``: the same one line, not SQLite's "malformed"."""
    path = imported / "archive.sqlite"
    reader = _sqlite.connect(path, read_only=True)
    fetched = [reader.execute("SELECT text FROM messages ORDER BY id DESC") for _ in "ab"]
    for rows in fetched:  # each statement ran: only its last page was read
        assert rows.fetchone() is not None
    size = path.stat().st_size
    with path.open("r+b") as rewritten:  # another program's writes, as seen by this reader
        rewritten.seek(4096)
        rewritten.write(b"\xff" * (size - 4096))
    for fetch in (fetched[0].fetchall, lambda: list(fetched[1])):
        with pytest.raises(FreeholdError) as raised:
            fetch()
        assert "changed while it was read read-only" in str(raised.value)
        assert str(path) in str(raised.value) and "run again" in str(raised.value)
    reader.close()
