"""``freehold backup`` from the command line: init and the kit, destinations, run, list,
verify, restore after a disaster, prune, and status with its exit code and 3-2-1 verdict."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import stat
import subprocess
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import pytest
import tomlkit
from click.testing import CliRunner, Result
from pydantic import BaseModel
from pyrage import x25519

from freehold.backup import crypto, settings
from freehold.cli import cli
from freehold.config import load_config
from freehold.errors import BackupError

from .conftest import PASSPHRASE, Place, Templates, make_place


def invoke(*args: str, **env: str) -> Result:
    return CliRunner().invoke(
        cli, ["backup", *args], env={"FREEHOLD_PASSPHRASE": PASSPHRASE, **env}
    )


def test_init_makes_the_identity_and_a_kit_that_opens_it(
    _isolated_home: Path, tmp_path: Path
) -> None:
    kit = tmp_path / "kit.txt"
    result = invoke("init", "--kit", str(kit), "--yes")
    assert result.exit_code == 0, result.output
    assert "Lose the kit AND the passphrase: the backups are lost" in result.output
    assert stat.S_IMODE(kit.stat().st_mode) == 0o600
    from_kit = crypto.identity_from_file(kit)
    from_passphrase = crypto.unlock(_isolated_home, PASSPHRASE)
    assert str(from_kit) == str(from_passphrase)
    found = settings.load(_isolated_home)
    assert found.recipients == (str(from_kit.to_public()),) and found.kit_saved
    assert all(
        line.startswith("#") or line.startswith("AGE-SECRET-KEY-") or not line
        for line in kit.read_text(encoding="utf-8").splitlines()
    )
    again = invoke("init", "--kit", str(tmp_path / "kit2.txt"), "--yes")
    assert again.exit_code == 0  # the same identity, its kit written again
    assert str(crypto.identity_from_file(tmp_path / "kit2.txt")) == str(from_kit)


def _git_clone(folder: Path) -> Path:
    """A real git work tree, as the README's ``git clone`` leaves one (``git status`` clean)."""
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


def _untracked(clone: Path) -> str:
    status = ["git", "-C", str(clone), "status", "--porcelain", "--untracked-files=all"]
    return subprocess.run(status, check=True, capture_output=True, text=True).stdout


def test_init_writes_the_kit_in_the_home_folder_never_in_the_clone_it_runs_from(
    _isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the README leaves you in a git clone: a kit written there is one `git add .` from a commit
    clone, user_home = _git_clone(tmp_path / "clone"), tmp_path / "user"
    user_home.mkdir()
    monkeypatch.chdir(clone)
    result = invoke("init", "--yes", HOME=str(user_home), USERPROFILE=str(user_home))
    assert result.exit_code == 0, result.output
    assert _untracked(clone) == ""
    kit = user_home / "freehold-recovery-kit.txt"
    assert f"recovery kit written to {kit}:" in result.output
    assert stat.S_IMODE(kit.stat().st_mode) == 0o600


def test_init_refuses_a_kit_inside_a_git_work_tree_before_any_key(
    _isolated_home: Path, tmp_path: Path
) -> None:
    clone = _git_clone(tmp_path / "clone")
    (clone / "notes").mkdir()
    kit = clone / "notes" / "kit.txt"
    result = invoke("init", "--kit", str(kit), "--yes")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {kit}: inside the git work tree {clone.resolve()}, where a secret key is one "
        "commit away from being shared — give a --kit path outside it\n"
    )
    assert _untracked(clone) == "" and not crypto.identity_path(_isolated_home).exists()


def test_init_again_keeps_the_recipients_configured_and_says_what_it_changed(
    _isolated_home: Path, tmp_path: Path
) -> None:
    partner, spare = (str(x25519.Identity.generate().to_public()) for _ in range(2))
    first = invoke("init", "--kit", str(tmp_path / "k1.txt"), "--recipient", partner, "--yes")
    assert first.exit_code == 0, first.output
    own = str(crypto.identity_from_file(tmp_path / "k1.txt").to_public())
    assert f"recipient added: {own} (this data folder's key)" in first.output
    assert f"recipient added: {partner}" in first.output
    again = invoke("init", "--kit", str(tmp_path / "k2.txt"), "--yes")
    assert again.exit_code == 0, again.output
    assert settings.load(_isolated_home).recipients == (own, partner)
    assert f"recipient kept: {partner}" in again.output and "added" not in again.output
    third = invoke("init", "--kit", str(tmp_path / "k3.txt"), "--recipient", spare, "--yes")
    assert f"recipient added: {spare}" in third.output
    assert settings.load(_isolated_home).recipients == (own, partner, spare)


def test_a_bad_recipient_is_named_where_it_was_given(
    home: Path, folder: Place, tmp_path: Path
) -> None:
    # C11: a bad --recipient names the option and the value, not config.toml (unchanged)
    before = (home / "config.toml").read_bytes()
    kit = tmp_path / "k.txt"
    result = invoke("init", "--kit", str(kit), "--recipient", "age1notakey", "--yes")
    assert result.exit_code == 2
    assert "Error: Invalid value for '--recipient': 'age1notakey' is not an age public key (" in (
        result.output
    )
    assert "config.toml" not in result.output and not kit.exists()
    assert (home / "config.toml").read_bytes() == before
    # one written into config.toml is named there, with the key
    assert invoke("add", "usb", folder.url).exit_code == 0
    settings.set_value(home, "recipients", ["age1notakey"])
    ran = invoke("run")
    assert ran.exit_code == 1
    assert (
        f"{home / 'config.toml'}: backup.recipients: 'age1notakey' is not an age public key ("
        in ran.output
    )


def test_init_from_another_kit_is_refused_where_an_identity_exists(
    home: Path, templates: Templates, tmp_path: Path
) -> None:
    other = tmp_path / "other-kit.txt"
    other.write_text(crypto.kit_text(x25519.Identity.generate(), home), encoding="utf-8")
    no_key = tmp_path / "no-key.txt"
    no_key.write_text("# a kit whose key line was lost\n", encoding="utf-8")
    before = (crypto.identity_path(home).read_bytes(), settings.load(home).recipients)
    new = tmp_path / "new.txt"
    refused = invoke("init", "--from-kit", str(other), "--kit", str(new), "--yes")
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {other}: holds another key than this data folder's backup identity "
        f"({crypto.identity_path(home)}), which is kept — --from-kit is for a data folder "
        "without one (after a restore); run init without --from-kit to keep this one\n"
    )
    keyless = invoke("init", "--from-kit", str(no_key), "--kit", str(new), "--yes")
    assert keyless.exit_code == 1
    assert keyless.output == f"Error: {no_key}: no AGE-SECRET-KEY line — is it the recovery kit?\n"
    assert not new.exists()
    assert (crypto.identity_path(home).read_bytes(), settings.load(home).recipients) == before
    same = invoke("init", "--from-kit", str(templates.kit), "--kit", str(new), "--yes")
    assert same.exit_code == 0, same.output  # the very key: kept, its kit written again
    assert str(crypto.identity_from_file(new)) == str(crypto.identity_from_file(templates.kit))


def test_backup_settings_and_providers_share_config_toml(
    _isolated_home: Path, tmp_path: Path
) -> None:
    # [backup] and [providers] live in one config.toml: each part reads the other's table
    # without calling it unknown, and writing one keeps the other.
    _isolated_home.mkdir(parents=True, exist_ok=True)
    (_isolated_home / "config.toml").write_text(
        '[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n',
        encoding="utf-8",
    )
    assert invoke("init", "--kit", str(tmp_path / "kit.txt"), "--yes").exit_code == 0
    assert settings.load(_isolated_home).recipients
    assert list(load_config(_isolated_home).providers) == ["local"]
    listed = CliRunner().invoke(cli, ["providers", "list", "--json"])
    assert listed.exit_code == 0, listed.output


BROKEN = [  # [backup] as a person may write it wrong: (the file, what the one line says)
    ("[backup]\nkeep = 3\n", "backup.keep is 3 — write a table: [backup.keep]"),
    ('backup = "x"\n', 'backup is "x" — write a table: [backup]'),
    ("[backup]\ndestinations = []\n", "backup.destinations is [] — write tables"),
    ('[backup.destinations]\nusb = "/x"\n', 'backup.destinations.usb is "/x" — write a table'),
    ("[backup.destinations.usb]\noffsite = true\n", "backup.destinations.usb.url is missing"),
    ("[backup.keep]\ndaily = -1\n", "backup.keep.daily is -1 — write a whole number, 0 or more"),
    ("[backup]\npack_kib = true\n", "backup.pack_kib is true — write a whole number of KiB"),
    ('[backup]\nrecipients = ["age1x", 3]\n', "backup.recipients[1] is 3 — write a list"),
    ('[backup.destinations."my usb"]\nurl = "/x"\n', 'backup.destinations."my usb": a destination'),
    ('[backup.destinations.""]\nurl = "/x"\n', 'backup.destinations."": a destination'),
    ("[backup]\nkit_saved = 5\n", "backup.kit_saved is 5 — write a date"),  # C6: a union
    ("[backup]\nkit_saved = 12:00:00\n", "backup.kit_saved is 12:00:00 — write a date"),
    (  # B9: a misspelt or unknown key is refused, not ignored
        '[backup.destinations.usb5]\nurl = "/x"\nofsite = true\n',
        "backup.destinations.usb5.ofsite is not a backup setting — did you mean offsite?",
    ),
    (
        "[backup.keep]\ndayly = 3\n",
        "backup.keep.dayly is not a backup setting — did you mean daily?",
    ),
    (
        "[backup]\nbogus = 1\n",
        "backup.bogus is not a backup setting — use one of: destinations, keep, kit_saved, "
        "pack_kib, recipients",
    ),
]


@pytest.mark.parametrize(("text", "said"), BROKEN)
def test_a_broken_backup_table_is_one_line_naming_the_file_and_the_key(
    _isolated_home: Path, tmp_path: Path, text: str, said: str
) -> None:
    _isolated_home.mkdir(parents=True)
    config = _isolated_home / "config.toml"
    config.write_text(text, encoding="utf-8")
    commands = [["status"], ["run"], ["prune", "--dry-run"], ["destinations"], ["list"]]
    commands += [["add", "usb", str(tmp_path / "usb")], ["init", "--kit", str(tmp_path / "k")]]
    for command in commands:
        result = invoke(*command)
        assert result.exit_code == 1, (command, result.output)
        assert result.output == f"Error: {config}: {said}" + result.output.split(said)[1]
        assert result.output.count("\n") == 1 and "Traceback" not in result.output, command
    assert config.read_text(encoding="utf-8") == text  # nothing written over it
    assert not (tmp_path / "k").exists() and not (_isolated_home / "backup").exists()


def _places(model: type[BaseModel], path: tuple[str | int, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place a value can be written in [backup], read from the models: each key, an item
    of each array, a named table (``usb``) of each table of tables, and what is inside it."""
    found: list[tuple[Any, ...]] = []
    for name, info in model.model_fields.items():
        here, shape = (*path, name), info.annotation
        found.append(here)
        if get_origin(shape) is dict:
            here, shape = (*here, "usb"), get_args(shape)[1]
            found.append(here)
        elif get_origin(shape) is list:
            found.append((*here, 0))
        shape = get_args(shape)[0] if get_origin(shape) is Annotated else shape
        if isinstance(shape, type) and issubclass(shape, BaseModel):
            found += _places(shape, here)
    return found


SHAPES: list[Any] = [  # every kind of TOML value, in and out of range
    *(5, 0, -1, 1 << 62, 1.5, math.nan, True, "", "x", "/media/usb", "a\n" * 30),
    *([], [1], ["x"], [[1]], [{"a": 1}], {}, {"a": 1}, {"url": "/x"}, {"daily": "x"}),
    *(datetime(2026, 12, 6, 9, tzinfo=UTC), datetime(2026, 12, 6, 9), date(2026, 12, 6)),
    time(12),
]
GOOD = {"recipients": ["age1x"], "destinations": {"usb": {"url": "/x"}}}
ONE_LINE = re.compile(
    r"(\.[^ ]+|\[\d+\])* (is .{1,40} — write .+ \(docs/backups\.md\)"
    r"|is missing — add .+|is not a backup setting — .+)"
)


@pytest.mark.parametrize("place", [(), *_places(settings._Backup)], ids=repr)
def test_every_value_in_every_place_is_read_or_refused_in_one_line(
    _isolated_home: Path, place: tuple[Any, ...]
) -> None:
    # C6: refusals are translated from whatever pydantic says (union member tags, every error
    # type), so a value of any shape anywhere is one line naming the key, never a traceback
    _isolated_home.mkdir(parents=True)
    config = _isolated_home / "config.toml"
    key = "backup" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in place)
    for value in SHAPES:
        top: Any = {"backup": json.loads(json.dumps(GOOD))}  # a deep copy
        holder, path = top, ("backup", *place)
        for step in path[:-1]:
            holder = holder.setdefault(step, {})
        holder[path[-1]] = value
        config.write_text(tomlkit.dumps(top), "utf-8")
        try:
            settings.load(_isolated_home)
        except BackupError as error:
            said = str(error)
            assert said.startswith(f"{config}: {key}") and "\n" not in said, (value, said)
            assert ONE_LINE.fullmatch(said.removeprefix(f"{config}: {key}")), (value, said)


def test_a_value_set_is_checked_before_the_file_is_written(_isolated_home: Path) -> None:
    settings.set_value(_isolated_home, "pack_kib", 64)  # type: ignore[arg-type]
    before = (_isolated_home / "config.toml").read_bytes()
    with pytest.raises(BackupError, match=r'backup\.pack_kib is "big" — write a whole number'):
        settings.set_value(_isolated_home, "pack_kib", "big")
    assert (_isolated_home / "config.toml").read_bytes() == before
    assert settings.load(_isolated_home).pack_bytes == 64 << 10


def test_init_asks_and_does_not_confirm_the_kit_on_no(_isolated_home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["backup", "init", "--kit", str(tmp_path / "k.txt")],
        input="n\n",
        env={"FREEHOLD_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 0
    assert "off-site destinations wait" in result.output
    assert settings.load(_isolated_home).kit_saved is None


def test_without_a_passphrase_an_unattended_command_says_how_to_give_one(
    home: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["backup", "verify"], env={"FREEHOLD_PASSPHRASE": None})
    assert result.exit_code == 1
    assert "set FREEHOLD_PASSPHRASE or give --passphrase-file" in result.output


def test_add_refuses_a_folder_holding_other_files_and_a_second_name(
    home: Path, tmp_path: Path
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "holiday.jpg").write_bytes(b"x")
    result = invoke("add", "usb", str(busy))
    assert result.exit_code == 1
    assert "holds other files and is not a freehold backup" in result.output
    assert invoke("add", "usb", str(tmp_path / "usb")).exit_code == 0
    assert "exists already" in invoke("add", "usb", str(tmp_path / "other")).output
    listed = json.loads(invoke("destinations", "--json").output)
    assert listed == [
        {"name": "usb", "url": str(tmp_path / "usb"), "media": "this disk", "offsite": False}
    ]


def test_run_list_verify_and_a_restore_after_the_data_folder_is_gone(
    home: Path, folder: Place, templates: Templates, tmp_path: Path
) -> None:
    assert invoke("add", "usb", folder.url).exit_code == 0
    ran = invoke("run")
    assert ran.exit_code == 0, ran.output
    assert "usb: snapshot " in ran.output
    # the folder was empty: no chunk was "already there"; repeats within the run are said so
    assert "already there" not in ran.output
    assert re.search(r", \d+ repeated chunks? stored once\n", ran.output), ran.output
    snapshots = json.loads(invoke("list", "--json").output)
    assert [s["destination"] for s in snapshots] == ["usb"]
    verified = json.loads(invoke("verify", "--json").output)
    assert verified[0]["ok"] and verified[0]["problems"] == []
    # the disaster: a new machine, no data folder, the kit and the backup folder only
    bare = tmp_path / "new-machine"
    result = invoke(
        "restore",
        "latest",
        "--from",
        folder.url,
        "--identity",
        str(templates.kit),
        "--to",
        str(tmp_path / "back"),
        FREEHOLD_HOME=str(bare),
        FREEHOLD_PASSPHRASE=None,  # type: ignore[arg-type]
    )
    assert result.exit_code == 0, result.output
    assert "23 conversations" in result.output
    stats = CliRunner().invoke(
        cli, ["stats", "--json"], env={"FREEHOLD_HOME": str(tmp_path / "back")}
    )
    assert json.loads(stats.output)["conversations"] == 23


def test_a_restore_under_a_file_is_one_line_naming_the_path(
    home: Path, folder: Place, tmp_path: Path
) -> None:
    assert invoke("add", "usb", folder.url).exit_code == 0
    assert invoke("run").exit_code == 0
    (tmp_path / "afile").write_text("x\n")
    to = tmp_path / "afile" / "sub"
    result = invoke("restore", "latest", "--to", str(to))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {to}: cannot restore there ({tmp_path / 'afile'} is a file, not a folder) — "
        "restore into a new or empty folder\n"
    )


def test_a_sampled_verify_reads_a_part_and_says_so(home: Path, folder: Place) -> None:
    settings.set_value(home, "pack_kib", 16)  # type: ignore[arg-type]
    invoke("add", "usb", folder.url)
    invoke("run")
    report = json.loads(invoke("verify", "--sample", "20", "--json").output)[0]
    assert report["ok"] and report["sample"] == 20
    assert report["packs_total"] > 0
    assert report["packs_read"] < report["packs_total"]


def test_prune_keeps_what_the_retention_says_and_the_rest_still_verifies(
    home: Path, folder: Place
) -> None:
    invoke("add", "usb", folder.url)
    for _ in range(3):
        invoke("run")
    settings.set_value(home, "keep", {"daily": 1, "weekly": 0, "monthly": 0})  # type: ignore[arg-type]
    dry = invoke("prune", "--dry-run")
    assert "1 snapshots kept, 2 would go" in dry.output
    assert len(json.loads(invoke("list", "--json").output)) == 3
    assert invoke("prune", "--yes").exit_code == 0
    assert len(json.loads(invoke("list", "--json").output)) == 1
    assert json.loads(invoke("verify", "--json").output)[0]["problems"] == []


def _age_events(home: Path, hours: int) -> None:
    db = sqlite3.connect(home / "backup" / "state.sqlite")
    db.execute(f"UPDATE events SET at = datetime(at, '-{hours} hours') || '+00:00'")
    db.commit()
    db.close()


def test_status_exits_1_when_a_backup_is_older_than_48_hours(home: Path, folder: Place) -> None:
    invoke("add", "usb", folder.url)
    invoke("run")
    fresh = invoke("status", "--json")
    assert fresh.exit_code == 0, fresh.output
    _age_events(home, 49)
    stale = invoke("status", "--json")
    assert stale.exit_code == 1
    found = json.loads(stale.output)
    assert found["ok"] is False
    assert any("no successful backup since" in p for p in found["problems"])


def test_status_exits_1_when_the_last_drill_failed(home: Path, folder: Place) -> None:
    invoke("add", "usb", folder.url)
    invoke("run")
    assert invoke("drill").exit_code == 0
    assert invoke("status").exit_code == 0
    next((home / "blobs").glob("??/*")).unlink()
    drilled = invoke("drill")
    assert drilled.exit_code == 1 and "1 attachments gone" in drilled.output
    status = invoke("status")
    assert status.exit_code == 1 and "the last drill failed" in status.output


def test_status_says_3_2_1_is_met_with_a_disk_copy_and_an_offsite_copy(
    home: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    remote = make_place("webdav", tmp_path, request)
    invoke("add", "usb", str(tmp_path / "usb"))
    invoke("add", "cloud", remote.url)
    before = json.loads(invoke("status", "--json").output)
    assert before["three_two_one"] is False and before["copies"] == 1
    assert invoke("run").exit_code == 0
    after = json.loads(invoke("status", "--json").output)
    assert after["copies"] == 3 and after["offsite"] is True
    assert after["media_kinds"] == ["remote", "this disk"]
    assert after["three_two_one"] is True and after["ok"] is True
    assert after["schedule"].startswith("not scheduled")
    text = invoke("status").output
    assert "3-2-1 met: 3 copies" in text


def test_init_refuses_to_keep_a_recipient_that_is_not_a_key(home: Path, tmp_path: Path) -> None:
    """init keeps the recipients configured: one that is not an age key is refused there, in
    one line naming config.toml, not kept to fail every later run."""
    settings.set_value(home, "recipients", ["age1notakey"])
    before = (home / "config.toml").read_bytes()
    kit = tmp_path / "k.txt"
    result = invoke("init", "--kit", str(kit), "--yes")
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {home / 'config.toml'}: backup.recipients: 'age1notakey' is not an age public key"
    )
    assert not kit.exists() and (home / "config.toml").read_bytes() == before


def test_one_place_is_one_destination_whatever_its_names(home: Path, tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    assert invoke("add", "usb", str(usb)).exit_code == 0
    for other in (f"{usb}/", str(tmp_path / ".." / tmp_path.name / "usb")):
        refused = invoke("add", "usb2", other)
        assert refused.exit_code == 1 and "is destination usb already" in refused.output
    assert [d["name"] for d in json.loads(invoke("destinations", "--json").output)] == ["usb"]


def test_a_destination_inside_another_is_refused_either_way(home: Path, tmp_path: Path) -> None:
    """One backup folder within another would be counted as two copies, and each one's
    verify would call the other's files foreign (review R7-5)."""
    usb = tmp_path / "usb"
    assert invoke("add", "usb", str(usb)).exit_code == 0
    inner = invoke("add", "inner", str(usb / "inner"))
    assert inner.exit_code == 1 and "is inside destination usb" in inner.output
    outer = invoke("add", "outer", str(tmp_path))
    assert outer.exit_code == 1 and "holds destination usb" in outer.output
    assert invoke("add", "beside", str(tmp_path / "usb-2")).exit_code == 0  # a name, not a path


def test_a_remote_path_inside_another_is_the_same_place() -> None:
    from freehold.backup.destinations import overlaps

    assert overlaps("s3:bucket/backup", "s3:bucket/backup/inner/")
    assert overlaps("s3:bucket/backup/inner", "s3:bucket")
    assert not overlaps("s3:bucket/backup", "s3:bucket/backup-2")
    assert not overlaps("s3:bucket/backup", "b2:bucket/backup/inner")


def test_a_place_named_twice_by_hand_counts_once_and_remove_takes_the_name_out(
    home: Path, tmp_path: Path
) -> None:
    usb = tmp_path / "usb"
    invoke("add", "usb", str(usb))
    settings.add_destination(home, "cloud", f"{usb}/", True)  # written before add refused it
    ran = invoke("run")
    assert ran.exit_code == 1
    assert "cloud: FAILED — cloud is the same place as usb" in ran.output
    found = json.loads(invoke("status", "--json").output)
    assert found["copies"] == 2 and found["offsite"] is False and found["ok"] is False
    assert any("freehold backup remove cloud" in p for p in found["problems"])
    removed = invoke("remove", "cloud")
    assert removed.exit_code == 0 and "removed cloud" in removed.output
    assert [d["name"] for d in json.loads(invoke("destinations", "--json").output)] == ["usb"]
    assert json.loads(invoke("status", "--json").output)["ok"] is True
    assert invoke("add", "cloud", str(tmp_path / "elsewhere")).exit_code == 0
    again = json.loads(invoke("status", "--json").output)  # the old cloud's runs are gone
    cloud = next(d for d in again["destinations"] if d["name"] == "cloud")
    assert cloud["last_run"] is None
    unknown = invoke("remove", "nas")
    assert unknown.exit_code == 1 and "no destination named nas" in unknown.output


def test_what_finder_or_explorer_leaves_in_a_destination_is_a_note_not_a_problem(
    home: Path, tmp_path: Path
) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / ".DS_Store").write_bytes(b"Bud1")  # Finder opened the new folder first
    assert invoke("add", "usb", str(usb)).exit_code == 0
    assert invoke("run").exit_code == 0
    (usb / "packs" / ".DS_Store").write_bytes(b"Bud1")
    (usb / "Thumbs.db").write_bytes(b"\xd0\xcf")
    pack = next((usb / "packs").glob("*.age")).name
    (usb / "packs" / f"._{pack}").write_bytes(b"\x00\x05\x16\x07")  # AppleDouble, on exFAT
    clean = invoke("verify")
    assert clean.exit_code == 0, clean.output
    said = " ".join(clean.output.split())  # as the terminal wraps it
    for litter in (".DS_Store", "packs/.DS_Store", "Thumbs.db", f"packs/._{pack}"):
        assert f"{litter}: the operating system left it" in said
    (usb / "holiday.jpg").write_bytes(b"\xff\xd8")
    foreign = invoke("verify")
    assert foreign.exit_code == 1
    assert (
        "foreign: holiday.jpg — not a freehold backup file: delete it if you put it there"
        in " ".join(foreign.output.split())
    )


def test_a_disk_root_holding_only_system_folders_is_taken_as_empty(tmp_path: Path) -> None:
    """A freshly formatted disk's root: Windows' and macOS's own folders and files, nothing
    of anyone's (review R7-7). A file of the same name as such a folder is no litter."""
    root = tmp_path / "disk"
    (root / "System Volume Information").mkdir(parents=True)
    (root / "System Volume Information" / "IndexerVolumeGuid").write_bytes(b"{0}")
    (root / ".Spotlight-V100").mkdir()
    (root / ".DS_Store").write_bytes(b"Bud1")
    assert invoke("add", "usb", str(root)).exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / ".Trashes").write_bytes(b"a file, not the folder")
    refused = invoke("add", "other", str(other))
    assert refused.exit_code == 1 and "holds other files" in refused.output


def test_litter_is_a_system_folder_itself_only_as_a_folder() -> None:
    from freehold.litter import is_litter

    assert is_litter("System Volume Information", folder=True)
    assert is_litter(".Spotlight-V100", folder=True)
    assert not is_litter(".Spotlight-V100")  # a file of that name is someone's
    assert is_litter(".Spotlight-V100/store.db")
