"""An in-memory keyring backend: the OS keyring (Secret Service, Keychain) cannot run here.

It is a real ``keyring`` backend, chosen through ``keyring.set_keyring``, so freehold's own
calls go through the library exactly as they would to the system's store.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        # Not viable for keyring's own choice: only a test that sets it uses it.
        raise RuntimeError("chosen by keyring.set_keyring only")

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)
