"""freehold keeps no password or token: a URL carrying one is refused at `backup add`, and
one written into config.toml by hand is never shown, logged or recorded whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from freehold.backup import credentials

from .conftest import freehold

SECRET = "Zq9SECRETvalue"


@pytest.mark.parametrize(
    "url",
    [
        f":sftp,host=127.0.0.1,user=fh,pass={SECRET}:backup",
        f":s3,provider=Minio,access_key_id=AK,secret_access_key={SECRET}:bucket/fh",
        f":webdav,url='https://fh:{SECRET}@dav.example':fh",
        f"myremote,password={SECRET}:fh",
        f":b2,account=ID,key={SECRET}:bucket",
        f':drive,token=\'{{"access_token":"{SECRET}"}}\':fh',
        f":azureblob,account=a,sas_url='https://a.example/?sig={SECRET}':c",
    ],
)
def test_add_refuses_a_url_carrying_a_credential_and_says_to_use_rclone_config(
    home: Path, url: str
) -> None:
    done = freehold("backup", "add", "cloud", url, home=home, check=False)
    assert done.returncode == 1
    assert "rclone config" in done.stderr and "credential" in done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert SECRET not in (home / "config.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "url", ["fhs3:bucket/fh", "b2:my-bucket/freehold", "/media/usb", "r,key_file=/k,user=me:x"]
)
def test_a_url_without_a_credential_is_no_credential(url: str) -> None:
    assert credentials.found(url) == []
    assert credentials.masked(url) == url


def test_a_password_written_by_hand_is_never_shown_logged_or_recorded(home: Path) -> None:
    url = f":webdav,url='http://127.0.0.1:9',user=fh,pass={SECRET}:fh"
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[backup.destinations.cloud]\nurl = "{url}"\noffsite = false\n')
    shown = [
        freehold("backup", "destinations", home=home, check=False),
        freehold("backup", "destinations", "--json", home=home, check=False),
        freehold("backup", "run", home=home, check=False),
        freehold("backup", "status", home=home, check=False),
        freehold("backup", "status", "--json", home=home, check=False),
    ]
    assert shown[2].returncode == 1 and "cloud: FAILED" in shown[2].stderr
    for done in shown:
        assert SECRET not in done.stdout + done.stderr
        assert "pass=***" in done.stdout + done.stderr
    db = sqlite3.connect(home / "backup" / "state.sqlite")
    try:
        events = " ".join(str(row) for row in db.execute("SELECT * FROM events"))
    finally:
        db.close()
    assert "cloud" in events and SECRET not in events
