"""Keys: the age identity, its passphrase, the recovery kit, and age encryption (pyrage).

``$FREEHOLD_HOME/backup/`` holds::

    identity.age   the X25519 identity, age-encrypted with the passphrase (scrypt): the
                   standard format, so ``age -d identity.age`` opens it too
    mac.key        the key that signs manifests, derived from the identity: a backup run
                   needs it, never the identity, so a scheduled run needs no passphrase

Snapshots are encrypted to the public recipients (the identity's own, plus any in
``[backup] recipients``); only reading them back (verify, restore, drill, prune) needs the
identity, from the passphrase or from the recovery kit. The kit is a printable page that is
also an age identity file: every line but the key is a ``#`` comment, so
``age -d -i freehold-recovery-kit.txt`` works as it is.

rage (under pyrage) picks the scrypt work factor for about a second of work, which takes
512 MiB of memory; opening the identity therefore runs in a short-lived child process, so
the long backup or restore around it keeps its small, flat footprint.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias

import pyrage
from pyrage import x25519

from freehold import _private
from freehold.errors import BackupError, BackupKeyError

__all__ = [
    "PASSPHRASE_VARIABLE",
    "Identity",
    "create_identity",
    "decrypt",
    "encrypt",
    "identity_from_file",
    "identity_path",
    "kit_text",
    "load_mac_key",
    "mac_key",
    "parse_recipients",
    "recipe",
    "recipient",
    "unlock",
]

PASSPHRASE_VARIABLE = "FREEHOLD_PASSPHRASE"
Identity: TypeAlias = Any  # pyrage.x25519.Identity (pyrage ships no type hints)
_MAC_INFO = b"freehold backup manifest mac v1"
_CHILD = (
    "import sys; from pyrage import passphrase as p; data = sys.stdin.buffer.read(); "
    "cut = data.index(b'\\0'); secret, body = data[:cut].decode(), data[cut + 1:]; "
    "sys.stdout.buffer.write("
    "p.encrypt(body, secret) if sys.argv[1] == 'lock' else p.decrypt(body, secret))"
)


def identity_path(home: Path) -> Path:
    return home / "backup" / "identity.age"


def _mac_path(home: Path) -> Path:
    return home / "backup" / "mac.key"


def mac_key(identity: Identity) -> bytes:
    return hmac.new(str(identity).encode(), _MAC_INFO, hashlib.sha256).digest()


def _scrypt(action: str, secret: str, body: bytes) -> bytes:
    """age's passphrase encryption (``lock``) or decryption, in a child process (see above)."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, action],
        input=secret.encode() + b"\0" + body,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupKeyError(
            "wrong passphrase for the backup identity — try again, or restore with "
            "--identity and the recovery kit"
            if action == "unlock"
            else f"cannot protect the identity: {done.stderr.decode(errors='replace')[-200:]}"
        )
    return done.stdout


def create_identity(home: Path, passphrase: str, identity: Identity | None = None) -> Identity:
    """A new identity (or ``identity``, from a recovery kit), saved under ``passphrase``;
    refuses to replace one."""
    path = identity_path(home)
    if path.exists():
        raise BackupError(f"{path}: a backup identity exists already — it is kept")
    if not passphrase:
        raise BackupError("an empty passphrase protects nothing — choose one")
    identity = identity or x25519.Identity.generate()
    locked = _scrypt("lock", passphrase, f"{identity}\n".encode())
    _private.make_dirs(path.parent)
    with _private.open_new(path) as out:
        out.write(locked)
    _store_mac_key(home, identity)
    return identity


def unlock(home: Path, passphrase: str) -> Identity:
    path = identity_path(home)
    try:
        locked = path.read_bytes()
    except FileNotFoundError as error:
        raise BackupError(
            f"{path}: no backup identity here — run `freehold backup init`, or give the "
            "recovery kit with --identity"
        ) from error
    identity = _parse_identity(_scrypt("unlock", passphrase, locked).decode(), str(path))
    _store_mac_key(home, identity)
    return identity


def identity_from_file(path: Path) -> Identity:
    """The identity in a recovery kit or any age identity file (its first secret key)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BackupKeyError(f"{path}: cannot be read as an identity file ({error})") from error
    return _parse_identity(text, str(path))


def _parse_identity(text: str, where: str) -> Identity:
    for line in text.splitlines():
        if line.strip().startswith("AGE-SECRET-KEY-"):
            try:
                return x25519.Identity.from_str(line.strip())
            except pyrage.IdentityError as error:
                raise BackupKeyError(f"{where}: a damaged secret key line ({error})") from error
    raise BackupKeyError(f"{where}: no AGE-SECRET-KEY line — is it the recovery kit?")


def _store_mac_key(home: Path, identity: Identity) -> None:
    path = _mac_path(home)
    if path.exists():
        return
    _private.make_dirs(path.parent)
    with _private.open_new(path) as out:
        out.write(mac_key(identity).hex().encode())


def load_mac_key(home: Path) -> bytes | None:
    try:
        return bytes.fromhex(_mac_path(home).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def recipient(value: str) -> x25519.Recipient:
    """``value`` as an age recipient; ``BackupError`` quoting it when it is not one."""
    try:
        return x25519.Recipient.from_str(value)
    except pyrage.RecipientError as error:
        raise BackupError(
            f"{value!r} is not an age public key ({error}) — give an age1… key "
            "(age-keygen -y prints one)"
        ) from error


def parse_recipients(values: list[str], where: str) -> list[x25519.Recipient]:
    """``values`` as age recipients; a bad one is ``BackupError`` naming ``where`` they came
    from (config.toml and its key) and the value."""
    try:
        return [recipient(value) for value in values]
    except BackupError as error:
        raise BackupError(f"{where}: {error}") from error


def encrypt(data: bytes, recipients: list[x25519.Recipient]) -> bytes:
    encrypted: bytes = pyrage.encrypt(data, recipients)
    return encrypted


def decrypt(data: bytes, identity: Identity, where: str) -> bytes:
    """``data`` decrypted, or ``BackupKeyError`` (not for this identity) or
    ``DamagedBackupError`` (altered or cut) naming ``where``."""
    from freehold.errors import DamagedBackupError

    try:
        plain: bytes = pyrage.decrypt(data, [identity])
        return plain
    except pyrage.DecryptError as error:
        if "no matching keys" in str(error).lower():
            raise BackupKeyError(
                f"{where}: this identity does not open it — wrong key (another kit, or "
                "another freehold's backups?)"
            ) from error
        raise DamagedBackupError(f"{where}: damaged ({error}): altered or cut") from error


def recipe() -> str:
    """The restore recipe with age and a shell (docs/backups.md shows the same script)."""
    return resources.files("freehold.backup").joinpath("restore.sh").read_text(encoding="utf-8")


def kit_text(identity: Identity, home: Path) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d")
    intro = f"""FREEHOLD BACKUP RECOVERY KIT — made {made} for the data folder {home}

Keep this page away from this computer: printed in a drawer, or in a password manager.
Anyone who holds it can read your backups. Lose it and forget the passphrase, and NO ONE
can open your backups again — not you, not freehold. There is no reset.

This file is also an age identity file: the one line below that is not a comment is your
secret key.

Public recipient (what backups are encrypted to): {identity.to_public()}

Restore with freehold, on any computer:
    freehold backup restore latest --from <backup folder or rclone remote> \\
        --identity <this file> --to <new data folder>

Restore without freehold: install age (https://age-encryption.org, or `apt install age`),
save this file as key.txt, and run this script (docs/backups.md explains it):
"""
    comments = [f"# {line}".rstrip() for line in intro.splitlines()]
    comments += [f"#     {line}".rstrip() for line in recipe().splitlines()]
    return "\n".join([*comments, "", str(identity), ""])
