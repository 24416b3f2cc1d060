"""The backups' page over a real server: what ``freehold backup status`` says, after real
``freehold backup`` commands (init, two destinations, a run to one of them), in English and
French; names from config.toml escaped."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from freehold.archive import open_archive
from freehold.cli import cli
from tests.web.conftest import start_server

PASSPHRASE = "correct horse battery staple"
HOSTILE = "<script>alert(1)</script>"


def backup(*args: str) -> None:
    result = CliRunner().invoke(cli, ["backup", *args], env={"FREEHOLD_PASSPHRASE": PASSPHRASE})
    assert result.exit_code == 0, result.output


def test_the_page_shows_each_destination_and_the_3_2_1_verdict(
    _isolated_home: Path, tmp_path: Path
) -> None:
    with open_archive(_isolated_home):
        pass
    backup("init", "--kit", str(tmp_path / "kit.txt"), "--yes")
    backup("add", "usb", str(tmp_path / "usb"))
    backup("add", "spare", str(tmp_path / f"spare{HOSTILE}"))
    backup("run", "--to", "usb")
    for server in start_server(_isolated_home):
        with server.client() as client:
            english = client.get("/backups")
            french = client.get("/backups", headers={"Accept-Language": "fr"})
    assert english.status_code == 200
    text = english.text
    assert "<h1>Backups</h1>" in text and 'href="/backups"' in text
    assert "3-2-1 not met</strong>: 2 copies" in text  # the archive and usb; spare never ran
    assert "none off site" in text
    assert "usb" in text and "spare" in text
    assert "spare: no successful backup ever (more than 48 hours)" in text
    assert "Recovery kit: saved, confirmed on" in text
    assert "Daily job: not scheduled" in text
    assert HOSTILE not in text and "&lt;script&gt;" in text
    assert "<h1>Sauvegardes</h1>" in french.text and "3-2-1 non respectée" in french.text


def test_a_broken_backup_table_is_an_error_page_naming_the_file_and_the_key(
    _isolated_home: Path,
) -> None:
    with open_archive(_isolated_home):
        pass
    config = _isolated_home / "config.toml"
    broken = {  # the file, what the page says (C6: kit_saved is a union: it was a 500)
        "[backup]\nkeep = 3\n": "backup.keep is 3 — write a table: [backup.keep]",
        "[backup]\nkit_saved = 5\n": "backup.kit_saved is 5 — write a date",
    }
    for server in start_server(_isolated_home):
        with server.client() as client:
            for text, said in broken.items():
                config.write_text(text, encoding="utf-8")
                page = client.get("/backups")
                assert page.status_code == 400  # the page says what to fix; not a 500
                assert f"{config}: {said}" in page.text
