"""Tests for the benchmark yardstick: benchmarks/plain_importer.py and benchmarks/versus_plain.py.

The plain importer must really do the job it is timed on (every message stored, its text
searchable), or the ratio in docs/performance.md would flatter freehold.
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # versus_plain imports genexport by name
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


genexport = _load("genexport")
plain_importer = _load("plain_importer")
versus_plain = _load("versus_plain")


@pytest.mark.parametrize(("layout", "profile"), [("single", "varied"), ("sharded", "default")])
def test_every_message_is_stored_and_searchable(layout: str, profile: str, tmp_path: Path) -> None:
    export = tmp_path / "export.zip"
    stats = genexport.generate(
        export, target_bytes=400_000, layout=layout, seed=5, shard_bytes=150_000, profile=profile
    )
    got = plain_importer.import_export(export, tmp_path / "plain.sqlite")
    assert (got["conversations"], got["messages"]) == (stats.conversations, stats.messages)
    with sqlite3.connect(tmp_path / "plain.sqlite") as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == stats.messages
        hits = db.execute(
            "SELECT m.role, m.text FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "WHERE messages_fts MATCH 'mistake'"
        ).fetchall()
        assert hits and all("mistake" in text.lower() for _, text in hits)
        db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


@pytest.mark.parametrize("parser", ["stdlib", "ijson"])
def test_both_parsers_read_the_same_elements(parser: str, tmp_path: Path) -> None:
    export = tmp_path / "export.zip"
    genexport.generate(export, target_bytes=300_000, seed=2)
    got = plain_importer.import_export(export, tmp_path / f"{parser}.sqlite", parser)
    with sqlite3.connect(tmp_path / f"{parser}.sqlite") as db:
        rows = db.execute("SELECT message_id, text FROM messages ORDER BY id").fetchall()
    assert len(rows) == got["messages"] > 0
    assert any("\r\n" in text for _, text in rows)  # escapes decoded, text kept as it was


def test_stdlib_items_reads_elements_across_chunk_borders(monkeypatch: Any) -> None:
    import io
    import json

    monkeypatch.setattr(plain_importer, "_CHUNK", 7)
    values = [{"a": "x" * n, "b": [n, {"c": None}]} for n in range(30)]
    data = json.dumps(values, indent=1).encode()
    assert list(plain_importer.stdlib_items(io.BytesIO(data))) == values


def test_versus_plain_prints_both_rates_and_their_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--profiles", "varied", "--sizes", "200KB", "--repeats", "2"]
    ballast = b"x" * (300 << 20)  # this process is big (as a test runner can be): the runs are not
    assert versus_plain.main([*argv, "--workdir", str(tmp_path)]) == 0
    del ballast
    out = capsys.readouterr().out
    assert len(re.findall(r"round \d  +freehold: ", out)) == 2
    assert len(re.findall(r"round \d  +plain: ", out)) == 2
    assert out.count("ratio freehold/plain: ") == 3  # one per round, one in the summary
    # Each run's own peak RSS (not the largest of every run so far, nor the parent's): a
    # Python process or two.
    rss = [int(mb) for mb in re.findall(r"  RSS +(\d+) MB", out)]
    assert len(rss) == 4 and all(10 < mb < 250 for mb in rss)
    # The runs' archives stay until the next run, which deletes them before it times anything
    # and lets the file system settle (on ext4 without a journal, files created soon after
    # thousands were deleted cost up to 1 ms each).
    scratch = tmp_path / "scratch"
    assert "until the next run" in out and scratch.is_dir()
    old = {p.name for p in scratch.iterdir()}
    assert len(old) == 4
    marker = scratch / "left-by-the-last-run"
    marker.mkdir()
    for number in range(1000):  # enough files for the next run to wait (--settle 0 here)
        (marker / str(number)).touch()
    argv = ["--profiles", "default", "--sizes", "200KB", "--repeats", "1", "--settle", "0"]
    assert versus_plain.main([*argv, "--workdir", str(tmp_path)]) == 0
    assert "files deleted: 0 s to settle" in capsys.readouterr().out
    assert not marker.exists() and not old & {p.name for p in scratch.iterdir()}


def test_versus_plain_times_a_baseline_tree_in_the_same_rounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = Path(__file__).resolve().parents[1]  # this checkout stands in for an earlier one
    argv = ["--profiles", "default", "--sizes", "200KB", "--repeats", "2", "--baseline", str(tree)]
    assert versus_plain.main([*argv, "--workdir", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"round \d  +baseline: ", out)) == 2
    assert out.count("ratio baseline/plain: ") == 3
    assert out.count("ratio freehold/plain: ") == 3


writer_bound = _load("writer_bound")


def _counts(database: Path) -> tuple[int, ...]:
    with sqlite3.connect(database) as db:
        tables = ("conversations", "messages", "message_attachments", "conversation_raw")
        counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables]
        hits = "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'mistake'"
        return (*counts, db.execute(hits).fetchone()[0])


def test_the_writer_alone_stores_what_an_import_stores(tmp_path: Path) -> None:
    from freehold.archive import open_archive
    from freehold.ingest import import_path

    export = tmp_path / "export.zip"
    stats = genexport.generate(export, target_bytes=300_000, seed=3, profile="varied")
    got = writer_bound.writer_alone(export, tmp_path / "alone" / "home")
    assert got["conversations"] == stats.conversations and got["seconds"] > 0
    with open_archive(tmp_path / "whole") as archive:
        import_path(archive, export, reader_process=False)
    alone = _counts(tmp_path / "alone" / "home" / "archive.sqlite")
    assert alone == _counts(tmp_path / "whole" / "archive.sqlite")
    assert alone[0] == stats.conversations and alone[-1] > 0


def test_writer_bound_prints_the_three_runs_and_both_ratios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--profiles", "default", "--sizes", "200KB", "--repeats", "2"]
    assert writer_bound.main([*argv, "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("freehold", "writer alone", "plain"):
        assert len(re.findall(rf"round \d +{name}: +[0-9.]+ s", out)) == 2
    assert out.count("plain/writer alone") == 3  # one per round, one in the summary
    assert out.count("plain/freehold") == 3
    assert (tmp_path / "scratch").is_dir()  # kept until the next run (see above)
