"""The snapshot format: manifests (MAC, strict parsing), chunks, retention, the sample window."""

from __future__ import annotations

import gzip
import math
import os
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from freehold.backup import format as fmt
from freehold.backup.prune import kept
from freehold.backup.settings import Retention
from freehold.backup.verify import window
from freehold.errors import DamagedBackupError

KEY = b"k" * 32


def _manifest() -> fmt.Manifest:
    pack = fmt.new_pack_name()
    chunk = fmt.Chunk(pack, 0, 10, "a" * 64)
    entry = fmt.FileEntry("archive.sqlite", 16384, "b" * 64, [chunk])
    digests = fmt.FileEntry(None, 100, "c" * 64, [fmt.Chunk(pack, 10, 5, "d" * 64)])
    return fmt.Manifest(
        fmt.new_snapshot_id(), "2026-12-06T03:00:00+00:00", None, 3, {pack: 1234}, [entry], digests
    )


def test_a_manifest_reads_back_as_it_was_written() -> None:
    manifest = _manifest()
    text = fmt.render_manifest(manifest, KEY)
    assert fmt.parse_manifest(text, KEY, "here") == manifest
    assert text.decode().splitlines()[0] == "freehold-backup 1"


@pytest.mark.parametrize("change", ["flip", "key", "cut"])
def test_a_manifest_changed_in_any_way_is_refused(change: str) -> None:
    text = fmt.render_manifest(_manifest(), KEY)
    key = KEY
    if change == "flip":
        text = text.replace(b"conversations 3", b"conversations 4")
    elif change == "key":
        key = b"x" * 32
    else:
        text = text[: len(text) // 2]
    with pytest.raises(DamagedBackupError, match="here"):
        fmt.parse_manifest(text, key, "here")


@pytest.mark.parametrize(
    "line", ["file ../../etc/passwd 1 " + "a" * 64, "file blobs/ab/x 1 " + "a" * 64, "rm -rf /"]
)
def test_a_manifest_line_outside_the_format_is_refused_even_with_a_good_mac(line: str) -> None:
    """A stolen MAC key still cannot make a restore write outside the data folder."""
    body = fmt.render_manifest(_manifest(), KEY).decode().rsplit("mac ", 1)[0] + line + "\n"
    text = body.encode() + f"mac {fmt._mac(KEY, body.encode())}\n".encode()
    with pytest.raises(DamagedBackupError, match="malformed"):
        fmt.parse_manifest(text, KEY, "here")


def test_a_chunk_is_a_gzip_member_stored_when_deflate_would_not_shrink_it() -> None:
    noise = os.urandom(16384)
    member = fmt.compress(noise)
    assert gzip.decompress(member) == noise
    assert len(member) < len(noise) + 64
    text = b"the same words again " * 800
    assert len(fmt.compress(text)) < len(text) // 10
    assert gzip.decompress(fmt.compress(text) + fmt.compress(noise)) == text + noise


def _daily(days: int) -> list[str]:
    start = datetime(2026, 12, 6, 3, tzinfo=UTC)
    return [fmt.new_snapshot_id(start - timedelta(days=d)) for d in range(days)]


def test_retention_keeps_7_daily_4_weekly_12_monthly_and_the_newest() -> None:
    snapshots = _daily(400)
    chosen = kept(snapshots, Retention())
    newest_first = sorted(snapshots, reverse=True)
    assert set(newest_first[:7]) <= chosen
    months = {fmt.snapshot_time(s).strftime("%Y-%m") for s in chosen}
    assert len(months) == 12
    assert len(chosen) <= 7 + 4 + 12
    weeks = {fmt.snapshot_time(s).isocalendar()[:2] for s in chosen if s in newest_first[:35]}
    assert len(weeks) >= 4


def test_retention_of_zero_everything_keeps_the_newest_only() -> None:
    snapshots = _daily(10)
    assert kept(snapshots, Retention(0, 0, 0)) == {max(snapshots)}


@pytest.mark.parametrize("percent", [10.0, 25.0, 33.3, 60.0])
def test_the_sample_window_reads_every_pack_within_ceil_100_over_percent_runs(
    percent: float,
) -> None:
    names = sorted(secrets.token_hex(16) for _ in range(500))
    runs = math.ceil(100 / percent)
    seen: set[str] = set()
    position = 1234567  # anywhere: the cursor of an earlier verify
    for _ in range(runs):
        read, position = window(names, position, percent)
        seen |= set(read)
        assert len(read) < len(names) * (percent / 100) + 40  # about PERCENT each time
    assert seen == set(names)
