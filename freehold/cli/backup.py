"""``freehold backup``: encrypted, incremental 3-2-1 backups, proven by restores.

Thin commands over ``freehold.backup``. Whatever reads a backup back (verify, restore, drill,
prune) needs the identity: from the recovery kit (``--identity``) or from the passphrase
(``--passphrase-file``, the ``FREEHOLD_PASSPHRASE`` variable, else a prompt). ``run`` needs
neither once ``init`` has been done on this machine, so a scheduled run asks for nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from freehold import _private, progress
from freehold.archive import home_dir, now_iso
from freehold.backup import crypto, settings
from freehold.backup import destinations as destinations_module
from freehold.backup import lost as losing
from freehold.backup import prune as pruning
from freehold.backup import restore as restoring
from freehold.backup import run as running
from freehold.backup import status as statuses
from freehold.backup import verify as verifying
from freehold.backup.credentials import masked
from freehold.backup.destinations import Destination, media, open_destination
from freehold.backup.format import snapshot_time
from freehold.backup.settings import DestinationConfig
from freehold.backup.state import State, open_state
from freehold.cli._base import confirmed, err, json_option, out, print_json, tell
from freehold.cli.schedule import schedule
from freehold.errors import FreeholdError

__all__ = ["backup"]

F = TypeVar("F", bound=Callable[..., Any])
_KIT = "freehold-recovery-kit.txt"
_VERSION_CONTROL = {".git": "git", ".hg": "Mercurial", ".svn": "Subversion", ".jj": "Jujutsu"}


def _identity_options(function: F) -> F:
    kit = click.option(
        "--identity",
        "identity_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The recovery kit (or any age identity file) instead of the passphrase.",
    )
    return kit(_passphrase_option(function))


def _passphrase_option(function: F) -> F:
    return click.option(
        "--passphrase-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=f"Read the passphrase from this file (else ${crypto.PASSPHRASE_VARIABLE}, else ask).",
    )(function)


def _skip_mac_option(function: F) -> F:
    return click.option(
        "--skip-mac",
        is_flag=True,
        help="With a second recipient's key (not the one that made the backups), which cannot "
        "check the manifests' MAC: read them without it. Damage is still found; a manifest "
        "forged by someone who knows your public key is not.",
    )(function)


def _yes_option(function: F) -> F:
    return click.option("--yes", is_flag=True, help="Answer yes to every question.")(function)


def _passphrase(path: Path | None, *, confirm: bool = False) -> str:
    if path is not None:
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise click.ClickException(
                f"{path}: cannot be read as a passphrase file ({error}) — give a text file "
                "(UTF-8) whose first line is the passphrase"
            ) from error
        return content.splitlines()[0] if content else ""
    if crypto.PASSPHRASE_VARIABLE in os.environ:
        return os.environ[crypto.PASSPHRASE_VARIABLE]
    if not sys.stdin.isatty():
        raise click.ClickException(
            f"no passphrase: set {crypto.PASSPHRASE_VARIABLE} or give --passphrase-file"
        )
    text: str = click.prompt(
        "Backup passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return text


def _identity(identity_file: Path | None, passphrase_file: Path | None) -> crypto.Identity:
    if identity_file is not None:
        return crypto.identity_from_file(identity_file)
    return crypto.unlock(home_dir(), _passphrase(passphrase_file))


def _destinations(names: tuple[str, ...]) -> list[Destination]:
    """The named destinations (a configured name, or a folder or rclone URL), else all. A URL
    that a configured destination has is that destination (its state is kept under its
    name); any other URL is a destination of its own, named by the URL."""
    configured = settings.load(home_dir()).destinations
    chosen = []
    for name in names:
        config = configured.get(name) or _by_url(configured.values(), name)
        chosen.append(open_destination(config))
    if not names:
        chosen = [open_destination(c) for c in running.selected(settings.load(home_dir()), None)]
    return chosen


def _by_url(configured: Iterable[DestinationConfig], url: str) -> DestinationConfig:
    same = destinations_module.same_place
    return next((c for c in configured if same(c.url, url)), DestinationConfig(url, url))


def _from_option(help_text: str) -> Callable[[F], F]:
    return click.option("--from", "sources", multiple=True, metavar="DESTINATION", help=help_text)


class _Group(click.Group):
    """Library errors become one-line messages (the top-level group makes them visible)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FreeholdError as error:  # a URL it quotes is shown without its secrets
            raise click.ClickException(masked(str(error))) from error


@click.group(cls=_Group)
def backup() -> None:
    """Encrypted, incremental backups to folders, disks and clouds, proven by restores.

    Start with `freehold backup init`, then `freehold backup add NAME URL` for each place
    (three copies, two kinds of media, one off site), then `freehold backup run`.
    docs/backups.md says how it works and how to restore without freehold.
    """


def _recipients(values: tuple[str, ...]) -> tuple[str, ...]:
    """The --recipient values, each an age public key: checked before anything is made."""
    for value in values:
        try:
            crypto.recipient(value)
        except FreeholdError as error:
            raise click.BadParameter(str(error)) from error
    return values


@backup.command()
@click.option(
    "--kit",
    type=click.Path(dir_okay=False, path_type=Path),
    show_default=f"~/{_KIT}",
    help="Where to write the recovery kit (print it, keep it away from this computer); "
    "never inside a git work tree.",
)
@click.option(
    "--recipient",
    multiple=True,
    metavar="AGE1…",
    callback=lambda ctx, param, values: _recipients(values),
    help="Another public key to encrypt to.",
)
@click.option(
    "--from-kit",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Keep the identity of this recovery kit, in a data folder without one (after a restore).",
)
@_passphrase_option
@_yes_option
def init(
    kit: Path | None,
    recipient: tuple[str, ...],
    from_kit: Path | None,
    passphrase_file: Path | None,
    yes: bool,
) -> None:
    """Create the backup identity and its recovery kit (again: rewrite the kit).

    The identity is kept in the data folder, protected by your passphrase. The kit holds the
    identity itself: lose the kit and forget the passphrase, and the backups are lost.
    Recipients already configured are kept; each --recipient is added to them.
    """
    home = home_dir()
    kit = _kit_path(kit or Path.home() / _KIT)  # checked before any key: nothing half-done
    current = settings.load(home)  # a broken [backup]: refused before any key
    configured = current.recipients
    running.age_recipients(home, current)  # a bad one kept would fail every later run
    given = crypto.identity_from_file(from_kit) if from_kit else None  # no key: refused
    identity = _own_identity(home, given, from_kit, passphrase_file)
    own = str(identity.to_public())
    recipients = list(dict.fromkeys([own, *configured, *recipient]))  # in order, once each
    settings.set_value(home, "recipients", recipients)
    for added in (r for r in recipients if r not in configured):
        tell(f"recipient added: {added}" + (" (this data folder's key)" if added == own else ""))
    for kept in (r for r in configured if r != own):
        tell(f"recipient kept: {kept} (remove it from [backup] recipients in config.toml)")
    _write_kit(kit, crypto.kit_text(identity, home))
    tell(f"recovery kit written to {kit}: print it or keep it in a password manager, then")
    tell("delete it from this computer. Lose the kit AND the passphrase: the backups are lost.")
    if yes or confirmed("Is the recovery kit saved away from this computer?"):
        settings.set_value(home, "kit_saved", now_iso())
        tell("kit confirmed: off-site destinations may be used")
    else:
        tell("not confirmed: off-site destinations wait — run freehold backup init again")


def _kit_path(kit: Path) -> Path:
    """Where the kit may go: a new file in a folder you can write, outside any version-controlled
    work tree (the README leaves you in a git clone: the kit there is one commit from shared)."""
    if kit.exists():
        raise click.ClickException(f"{kit} exists — move it away or give another --kit path")
    folder = kit.absolute().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise click.ClickException(
            f"{folder}: no folder you can write the kit in — give a --kit path in one"
        )
    found = _work_tree(folder.resolve())
    if found is not None:
        tree, kind = found
        raise click.ClickException(
            f"{kit}: inside the {kind} work tree {tree}, where a secret key is one commit "
            "away from being shared — give a --kit path outside it"
        )
    return kit


def _work_tree(folder: Path) -> tuple[Path, str] | None:
    """The version-controlled work tree ``folder`` is in (itself or one above it) and its
    kind, if any: a ``.git`` folder or file (a worktree, a submodule), ``.hg``, ``.svn``…"""
    for place in (folder, *folder.parents):
        for marker, kind in _VERSION_CONTROL.items():
            if (place / marker).exists():
                return place, kind
    return None


def _own_identity(
    home: Path, given: crypto.Identity | None, from_kit: Path | None, passphrase_file: Path | None
) -> crypto.Identity:
    """The data folder's identity: the one it has (a kit given must hold that very key: an
    identity is never replaced), else a new one, or the kit's, under a new passphrase."""
    path = crypto.identity_path(home)
    if not path.exists():
        return crypto.create_identity(home, _passphrase(passphrase_file, confirm=True), given)
    stored = crypto.load_mac_key(home)  # derived from the identity: compared without a secret
    if given is not None and stored is not None:
        if stored != crypto.mac_key(given):
            raise _another_key(from_kit, path)
        return given
    identity = crypto.unlock(home, _passphrase(passphrase_file))
    if given is not None and str(given) != str(identity):
        raise _another_key(from_kit, path)
    return identity


def _another_key(kit: Path | None, path: Path) -> click.ClickException:
    return click.ClickException(
        f"{kit}: holds another key than this data folder's backup identity ({path}), which "
        "is kept — --from-kit is for a data folder without one (after a restore); run init "
        "without --from-kit to keep this one"
    )


def _write_kit(kit: Path, text: str) -> None:
    """The kit holds the secret key: a new file, 0600 from its first byte (never a moment
    readable by others, whatever the umask)."""
    try:
        with _private.open_new(kit) as page:
            page.write(text.encode("utf-8"))
    except OSError as error:
        raise click.ClickException(
            f"{kit}: cannot be written ({error.strerror}) — give another --kit path"
        ) from error


@backup.command()
@click.argument("name")
@click.argument("url")
@click.option("--offsite/--onsite", default=None, help="Override: is this copy off site?")
def add(name: str, url: str, offsite: bool | None) -> None:
    """Add a destination: a folder path (local folder, external disk) or an rclone remote.

    URL is a path (/media/usb/freehold) or remote:path for anything rclone reaches (S3, B2,
    SFTP, WebDAV, Google Drive, Dropbox, OneDrive…; set it up first with `rclone config`).
    """
    home = home_dir()
    if not url.startswith(("/", "~")) and ":" not in url:
        url = str(Path(url).resolve())
    config = destinations_module.add(home, name, url, offsite)
    where = "off site" if running.offsite(config, home) else "on site"
    tell(f"added {name}: {masked(url)} ({media(config, home)}, {where})")
    if media(config, home) == "this disk":
        tell("note: on the same disk as the archive — it does not survive that disk")


@backup.command()
@click.argument("name")
def remove(name: str) -> None:
    """Remove a destination: take it out of config.toml and forget its runs, snapshots and
    chunk index here. The files at the destination stay; delete them yourself if they are
    not wanted (another destination at the same place may still need them)."""
    home = home_dir()
    with running.locked(home):  # not while a run or prune writes there
        config = settings.remove_destination(home, name)
        if (home / "backup" / "state.sqlite").is_file():
            state = open_state(home)
            try:
                state.forget_destination(name)
            finally:
                state.close()
    tell(f"removed {name}: {masked(config.url)} — its files there stay, unused")


@backup.command("forget-lost")
@_yes_option
@_identity_options
def forget_lost(yes: bool, identity_file: Path | None, passphrase_file: Path | None) -> None:
    """Accept the loss of stored files no snapshot holds: attachments and exit-plan exports
    gone from the data folder or changed on disk, which make every backup run exit 1 until
    they are put back or forgotten. Every destination's snapshots are read with the key to
    prove the loss (none forgotten while one does not answer). The archive forgets each (an
    attachment is then counted missing, as one an export never brought); a changed file is
    moved aside as <name>.changed, never deleted. A file a snapshot holds is kept: put it
    back with freehold backup restore."""
    home = home_dir()
    identity = _identity(identity_file, passphrase_file)
    with running.locked(home):
        state = open_state(home)
        try:
            found = losing.find(home, losing.proof(home, identity, state))
        finally:
            state.close()
        for item in (i for i in found if i.held_at):
            tell(
                f"kept: {item.path}: {item.why} — a snapshot at {item.held_at[0]} holds it: put "
                f"it back (freehold backup restore latest --from {item.held_at[0]} --to DIR, "
                f"then copy DIR/{item.path} to {home}/{item.path})"
            )
        gone = [item for item in found if not item.held_at]
        if not gone:
            tell("no stored file is lost: nothing to forget")
            return
        for item in gone:
            tell(f"lost: {item.path}: {item.why}")
        if not yes and not confirmed(f"Forget {progress.plural(len(gone), 'lost file')}?"):
            raise click.ClickException("nothing forgotten")
        forgotten = losing.forget(home, gone)
    for item in gone:
        if item not in forgotten:
            tell(f"back: {item.path} — its bytes are its name's again: left alone")
    tell(
        f"forgot {progress.plural(len(forgotten), 'lost file')}: the archive no longer holds "
        "them, and backup runs no longer name them"
    )


@backup.command()
@json_option
def destinations(as_json: bool) -> None:
    """List the destinations: where, which medium, on or off site."""
    home = home_dir()
    rows = [
        {
            "name": c.name,
            "url": masked(c.url),
            "media": media(c, home),
            "offsite": running.offsite(c, home),
        }
        for c in settings.load(home).destinations.values()
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        side = "off site" if row["offsite"] else "on site"
        out.print(f"{row['name']}\t{row['url']}\t{row['media']}, {side}")
    if not rows:
        tell("no destination yet — freehold backup add NAME URL")


def _sent_line(sent: running.Sent) -> str:
    """One destination's run; a count of chunks kept or repeated only when there are some."""
    line = (
        f"{sent.destination}: snapshot {sent.snapshot}, "
        f"{progress.plural(sent.chunks_new, 'new chunk')} in "
        f"{progress.plural(sent.packs, 'pack')}, {sent.bytes / 1e6:,.1f} MB sent"
    )
    if sent.chunks_kept:
        line += f", {progress.plural(sent.chunks_kept, 'chunk')} already there"
    if sent.chunks_repeated:
        line += f", {progress.plural(sent.chunks_repeated, 'repeated chunk')} stored once"
    return line


@backup.command("run")
@click.option("--to", "names", multiple=True, metavar="DESTINATION", help="Only these.")
@_passphrase_option
def run_command(names: tuple[str, ...], passphrase_file: Path | None) -> None:
    """Take a snapshot and send what is new to every destination."""
    home = home_dir()
    if crypto.load_mac_key(home) is None and crypto.identity_path(home).exists():
        crypto.unlock(home, _passphrase(passphrase_file))  # once: keeps the manifest key
    with progress.reading(err, "backup", noun="pack") as tick:
        results = running.run(home, list(names) or None, tick)
    failed = 0
    for sent in results:
        if sent.ok:
            tell(_sent_line(sent))
        else:
            failed += 1
            tell(f"{sent.destination}: FAILED — {masked(sent.error or '')}")
    faults = [line for sent in results if sent.ok for line in running.not_kept(home, sent)]
    for line in faults:
        tell(line)
    if failed:
        raise click.ClickException(f"{failed} of {len(results)} destinations failed")
    if faults:
        raise click.ClickException(
            "stored files are gone or changed on disk (above): put them back, or accept the "
            "loss with freehold backup forget-lost"
        )


@backup.command("list")
@_from_option("Only this destination (a name, or a folder or rclone URL).")
@json_option
def list_command(sources: tuple[str, ...], as_json: bool) -> None:
    """List the snapshots each destination holds."""
    rows = []
    for dest in _destinations(sources):
        for snapshot in running.listed_snapshots(dest.listing()):
            taken = snapshot_time(snapshot).isoformat()
            rows.append({"destination": dest.name, "snapshot": snapshot, "taken": taken})
    if as_json:
        print_json(rows)
        return
    for row in rows:
        out.print(f"{row['destination']}\t{row['snapshot']}\t{row['taken']}")


@backup.command()
@_from_option("Only this destination (a name, or a folder or rclone URL).")
@click.option(
    "--sample",
    type=click.FloatRange(0, 100, min_open=True),
    metavar="PERCENT",
    help="Read only PERCENT of the packs: a window that moves on each time, so every pack is "
    "read within ceil(100/PERCENT) verifies.",
)
@_identity_options
@_skip_mac_option
@json_option
def verify(
    sources: tuple[str, ...],
    sample: float | None,
    identity_file: Path | None,
    passphrase_file: Path | None,
    skip_mac: bool,
    as_json: bool,
) -> None:
    """Read the backups back, decrypt and check them; name every damaged, missing or
    foreign object."""
    identity = _identity(identity_file, passphrase_file)
    state = open_state(home_dir())
    try:
        reports = [
            verifying.verify(d, identity, state, sample, check_mac=not skip_mac)
            for d in _destinations(sources)
        ]
    finally:
        state.close()
    if as_json:
        print_json([_report_json(r) for r in reports])
    else:
        for report in reports:
            _print_report(report)
    if not all(r.ok for r in reports):
        raise SystemExit(1)


def _report_json(report: verifying.Report) -> dict[str, Any]:
    return {
        "destination": report.destination,
        "ok": report.ok,
        "sample": report.sample,
        "snapshots": report.snapshots,
        "packs_read": report.packs_read,
        "packs_total": report.packs_total,
        "problems": [{"kind": p.kind, "path": p.path, "detail": p.detail} for p in report.problems],
        "notes": report.notes,
    }


def _print_report(report: verifying.Report) -> None:
    verdict = "OK" if report.ok else f"{len(report.problems)} PROBLEMS"
    out.print(
        f"{report.destination}: {verdict} — {progress.plural(len(report.snapshots), 'snapshot')}, "
        f"{report.packs_read}/{report.packs_total} packs read"
    )
    for problem in report.problems:
        out.print(f"  {problem}")
    for note in report.notes:
        out.print(f"  note: {note}")


@backup.command()
@click.argument("snapshot")
@click.option(
    "--to",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new or empty folder: it becomes a data folder (FREEHOLD_HOME).",
)
@_from_option("Where to restore from (default: the first destination that answers).")
@_identity_options
@_skip_mac_option
def restore(
    snapshot: str,
    folder: Path,
    sources: tuple[str, ...],
    identity_file: Path | None,
    passphrase_file: Path | None,
    skip_mac: bool,
) -> None:
    """Restore SNAPSHOT (or `latest`) into a new data folder, checked before it is placed."""
    identity = _identity(identity_file, passphrase_file)
    errors = []
    for dest in _destinations(sources):
        try:
            with progress.reading(err, f"restore from {dest.name}", noun="pack") as tick:
                done = restoring.restore(
                    dest, identity, snapshot, folder, tick, check_mac=not skip_mac
                )
        except restoring.TargetError:
            raise  # the folder is the problem: another destination would not help
        except FreeholdError as error:
            tell(f"not restored from {dest.name}: {error}")
            errors.append(str(error))
            continue
        for skipped in done.skipped:
            tell(f"skipped: {skipped}")
        tell(
            f"restored snapshot {done.snapshot} from {done.destination} into {done.folder}: "
            f"{progress.plural(done.conversations, 'conversation')}, "
            f"{progress.plural(done.files, 'file')}, {done.bytes / 1e6:,.1f} MB — checked "
            "(SHA-256, integrity_check, conversation digests)"
        )
        if skip_mac:
            tell(
                "the manifest's MAC was not checked (--skip-mac): damage would have been found, "
                "a snapshot forged by someone who knows the public key would not"
            )
        state = open_state(home_dir(), create=False)
        try:
            for item in done.lacking:
                others = restoring.elsewhere(state, done.destination, item.path)
                tell(f"not restored: {item.said(done.destination, done.folder, others)}")
        finally:
            state.close()
        tell(f"use it: FREEHOLD_HOME={done.folder} freehold stats")
        if done.lacking:
            raise click.ClickException(
                f"restored without {progress.plural(len(done.lacking), 'stored file')} "
                f"(above): the snapshot lacks {'it' if len(done.lacking) == 1 else 'them'}"
            )
        return
    raise click.ClickException("no destination restores: " + "; ".join(errors))


def _lost_files(report: restoring.Drill) -> None:
    """Each stored file the drill found gone or changed, and where its good copy is."""
    lost = [("gone", p) for p in report.files_gone] + [
        ("changed on disk", p) for p in report.files_changed
    ]
    for line in report.files_lacking[:20]:
        out.print(f"  the snapshot lacks {line}")
    for what, path in lost[:20]:
        out.print(f"  {what}: {path}")
    if lost:
        out.print(
            f"  put each back from this snapshot: freehold backup restore {report.snapshot} "
            f"--from {report.destination} --to DIR, then copy DIR/<file> into the data folder"
        )


@backup.command()
@_from_option("Only this destination.")
@_identity_options
def drill(
    sources: tuple[str, ...], identity_file: Path | None, passphrase_file: Path | None
) -> None:
    """Restore the latest snapshot of each destination into a temporary folder and compare
    it with the live archive."""
    identity = _identity(identity_file, passphrase_file)
    home = home_dir()
    state = open_state(home)
    try:
        reports = [restoring.drill(home, d, identity, state) for d in _destinations(sources)]
    finally:
        state.close()
    for report in reports:
        if report.error:
            out.print(f"{report.destination}: FAILED — {report.error}")
            continue
        verdict = "OK" if report.ok else "FAILED"
        out.print(
            f"{report.destination}: {verdict} — snapshot {report.snapshot}: {report.same:,} "
            f"conversations as live, {report.changed:,} changed since, {report.newer:,} newer "
            f"in the archive, {len(report.gone):,} gone from it, "
            f"{len(report.files_gone):,} attachments gone"
            + (f", {len(report.files_changed):,} changed on disk" if report.files_changed else "")
            + (f", {len(report.files_lacking):,} not in it" if report.files_lacking else "")
        )
        _lost_files(report)
    if not all(r.ok for r in reports):
        raise SystemExit(1)


@backup.command()
@_from_option("Only this destination.")
@click.option("--dry-run", is_flag=True, help="Say what would go; delete nothing.")
@click.option(
    "--forget-damaged",
    is_flag=True,
    help="First verify everything, and delete the snapshots that are damaged, foreign or "
    "replayed, or that need a damaged or missing pack; forget those this machine wrote that "
    "are gone. Then verify can pass again.",
)
@_identity_options
@_yes_option
def prune(
    sources: tuple[str, ...],
    dry_run: bool,
    forget_damaged: bool,
    identity_file: Path | None,
    passphrase_file: Path | None,
    yes: bool,
) -> None:
    """Delete snapshots beyond the retention (7 daily, 4 weekly, 12 monthly by default) and
    the packs no kept snapshot needs; with --forget-damaged, the broken snapshots first."""
    home = home_dir()
    keep = settings.load(home).keep
    identity = _identity(identity_file, passphrase_file)
    with running.locked(home):
        state = open_state(home)
        try:
            for dest in _destinations(sources):
                if forget_damaged and not _forget(dest, identity, state, dry_run, yes):
                    continue
                plan = pruning.prune(dest, identity, state, keep, dry_run=True)
                _print_prune(plan, "would go" if dry_run else "go")
                if dry_run or not (plan.removed or plan.packs_removed):
                    continue
                if yes or confirmed(f"Delete them from {dest.name}?"):
                    pruning.prune(dest, identity, state, keep, dry_run=False)
                    tell(f"{dest.name}: pruned")
        finally:
            state.close()


def _forget(
    dest: Destination, identity: crypto.Identity, state: State, dry_run: bool, yes: bool
) -> bool:
    """The broken snapshots of ``dest`` named, and deleted once confirmed; whether the
    retention may be planned next (not while broken snapshots stay)."""
    found = pruning.damaged(dest, identity, state)
    verb = "would go" if dry_run else "go"
    for snapshot, why in sorted(found.snapshots.items()):
        out.print(f"{dest.name}: snapshot {snapshot} {verb} — {why}")
    for snapshot in found.lost:
        out.print(f"{dest.name}: snapshot {snapshot} is gone — forgotten")
    if not (found.snapshots or found.lost):
        out.print(f"{dest.name}: nothing damaged")
        return True
    if dry_run:
        return False
    if yes or confirmed(f"Delete the damaged snapshots from {dest.name}?"):
        pruning.forget(dest, state, found)
        tell(f"{dest.name}: {progress.plural(len(found.snapshots), 'damaged snapshot')} deleted")
        return True
    return False


def _print_prune(plan: pruning.Pruned, verb: str) -> None:
    out.print(
        f"{plan.destination}: {len(plan.kept)} snapshots kept, {len(plan.removed)} {verb}, "
        f"{progress.plural(plan.packs_removed, 'pack')} ({plan.bytes_removed / 1e6:,.1f} MB) {verb}"
    )


@backup.command()
@json_option
def status(as_json: bool) -> None:
    """Per destination: the last run, verify and drill; whether 3-2-1 is met. Exits 1 when
    a backup is older than 48 hours or a drill failed."""
    found = statuses.status(home_dir())
    if as_json:
        print_json(found.as_json())
    else:
        _print_status(found)
    if not found.ok:
        raise SystemExit(1)


def _when(event: dict[str, Any] | None) -> str:
    if event is None:
        return "never"
    age = datetime.now(UTC) - datetime.fromisoformat(event["at"])
    hours = age.total_seconds() / 3600
    ago = f"{hours:.0f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"
    return f"{event['at']} ({ago}, {'ok' if event['ok'] else 'FAILED'})"


def _print_status(found: statuses.Status) -> None:
    for row in found.destinations:
        side = "off site" if row.offsite else "on site"
        out.print(f"{row.name}: {row.url} ({row.media}, {side})")
        out.print(f"  last run:    {_when(row.last_run)}")
        out.print(f"  last verify: {_when(row.last_verify)}")
        out.print(f"  last drill:  {_when(row.last_drill)}")
    met = "met" if found.three_two_one else "NOT met"
    out.print(
        f"3-2-1 {met}: {found.copies} copies (the archive and each destination with a backup "
        f"in 48 h), media: {', '.join(found.media_kinds)}, "
        f"{'one off site' if found.offsite else 'none off site'}"
    )
    out.print(f"schedule: {found.schedule}")
    out.print(
        f"recovery kit: {'confirmed ' + found.kit_saved if found.kit_saved else 'NOT confirmed'}"
    )
    for problem in found.problems:
        out.print(f"problem: {problem}")


backup.add_command(schedule)  # its own module, beside the daily job it installs
