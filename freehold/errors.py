"""Errors freehold raises, each with a message that says what to do next.

The tree is small on purpose::

    FreeholdError                 base: anything freehold reports to a person
    ├── UnknownExportError        a path that no importer recognises
    ├── BadExportError            a file that claims to be an export but cannot be read
    │   └── UnsafeArchiveError    a zip that breaks the safety rules (bomb, hostile names)
    ├── ArchiveError              the archive file cannot be opened or is not freehold's
    │   ├── NoArchiveError        there is no archive yet where one is read
    │   └── NewerArchiveError     a newer freehold updated the archive to a format not known here
    ├── NotFoundError             an id or a name that the archive does not hold
    ├── BackupError               a backup cannot be made, read, verified or restored
    │   ├── BackupKeyError        a wrong passphrase, or an identity that opens nothing here
    │   └── DamagedBackupError    an object at a destination is missing, altered or foreign
    ├── LifecycleError            the user's model-lifecycle.toml cannot be read
    ├── ConfigError               config.toml (or a value given for it) cannot be used
    ├── StorageError              freehold's own storage refused: busy, full, not writable
    └── ProviderError             a provider's answer failed: ``kind`` says how (router.py)

Library code raises these; only the CLI turns them into ``click.ClickException``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ArchiveError",
    "BackupError",
    "BackupKeyError",
    "BadExportError",
    "ConfigError",
    "DamagedBackupError",
    "FreeholdError",
    "LifecycleError",
    "NewerArchiveError",
    "NoArchiveError",
    "NotFoundError",
    "ProviderError",
    "StorageError",
    "UnknownExportError",
    "UnsafeArchiveError",
]


class FreeholdError(Exception):
    """Base class: the message is one line a person can act on."""


class UnknownExportError(FreeholdError):
    """No importer recognises the path."""


class BadExportError(FreeholdError):
    """The file is an export, or claims to be, but cannot be read."""


class UnsafeArchiveError(BadExportError):
    """A zip member or the zip as a whole breaks the safety limits."""


class ArchiveError(FreeholdError):
    """The archive cannot be opened, or is not a freehold archive."""


class NoArchiveError(ArchiveError):
    """A command that reads the archive found none (it never creates one)."""


class NewerArchiveError(ArchiveError):
    """A newer freehold updated the archive: ``_freehold_migrations`` names a step this one
    does not know. It is opened for nothing, reading included (``migrations.migrate``)."""


class NotFoundError(FreeholdError):
    """An id, prefix or name that matches nothing in the archive."""


class BackupError(FreeholdError):
    """A backup cannot be made, listed, verified or restored (freehold.backup)."""


class BackupKeyError(BackupError):
    """The passphrase does not open the identity, or the identity opens no file there."""


class DamagedBackupError(BackupError):
    """A snapshot or pack is missing, altered, truncated, replayed or not freehold's."""


class LifecycleError(FreeholdError):
    """The user's model lifecycle file (FREEHOLD_HOME/model-lifecycle.toml) is not usable."""


class ConfigError(FreeholdError):
    """config.toml, or a setting given on the command line, cannot be used as it is."""


class StorageError(FreeholdError):
    """The disk under the archive, its folders or an export's output refused a write (another
    program holds the database, no space, not writable): nothing is wrong with what was being
    read or the archive itself (``freehold/storage.py``). ``kind`` says how, one of
    ``storage.STORAGE_KINDS``: the web app answers each with its own status."""

    def __init__(self, message: str, kind: str = "write") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(eq=False)
class ProviderError(FreeholdError):
    """A provider call failed. ``kind`` is one of ``providers.base.ERROR_KINDS`` (classified
    from the error's body and type, not only its HTTP status); ``retryable`` says whether the
    same model may be tried again; ``retry_after`` is the wait the provider asked for, in
    seconds. The message never holds a key (``providers.base.redact``)."""

    message: str
    kind: str = "error"
    retryable: bool = False
    status: int | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
