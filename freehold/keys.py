"""Where a provider's API key comes from: its environment variable, else the OS keyring.

Keys never touch config.toml, the archive, exports, logs or error messages. ``api_key``
reads, in order: the variable the provider names (``api_key_env``); for a provider that
speaks to its vendor's own endpoint (no ``base_url``), the kind's usual variable
(``ANTHROPIC_API_KEY``…) — never for a ``base_url`` server, so an OpenAI key is not handed
to a third-party compatible server by accident; then the keyring (service ``freehold``,
user = the provider's name). A keyring that cannot be reached (no backend, a locked store)
counts as holding nothing: the caller says which variable to set.

A key is checked where it is read (``_usable``), whichever place it comes from, and where it
is stored: printable ASCII only (its ends stripped). No vendor's key holds a line break, a
tab or a letter outside ASCII, and no HTTP header can carry one: sent, the HTTP library
refuses it with a message that quotes the value (h11: ``Illegal header value b'…'``), which
would reach the terminal and the archive. The refusal names the variable or keyring entry,
never the value.
"""

from __future__ import annotations

import os
import re

import keyring
import keyring.errors

from freehold.config import ProviderConfig
from freehold.errors import ConfigError

__all__ = ["SERVICE", "api_key", "forget_key", "kept_key", "key_source", "put_back", "store_key"]

SERVICE = "freehold"
_UNUSABLE = re.compile(r"[^\x20-\x7e]")  # anything but printable ASCII


def api_key(provider: ProviderConfig, default_env: str | None = None) -> str | None:
    """The key for ``provider``, or None when none is set anywhere; a ``ConfigError`` naming
    where it was read when no HTTP header can carry it (``_usable``)."""
    found = _found(provider, default_env)
    if found is None:
        return None
    where, value = found
    return _usable(value, where, _again(provider, where))


def key_source(provider: ProviderConfig, default_env: str | None = None) -> str:
    """Where the key would come from, in words (never the key): for ``providers list``."""
    found = _found(provider, default_env)
    if found is None:
        wanted = " or ".join(f"${n}" for n in _env_names(provider, default_env))
        return f"none ({wanted} not set)" if wanted else "none"
    where, value = found
    label = where if where.startswith("$") else "keyring"
    if _UNUSABLE.search(value):
        return f"{label} (unusable: {_what(value)})"
    return label


def _found(provider: ProviderConfig, default_env: str | None) -> tuple[str, str] | None:
    """Where the key is read and its value (ends stripped), in the order of the module's
    docstring; None when no place holds one."""
    for name in _env_names(provider, default_env):
        value = os.environ.get(name, "").strip()
        if value:
            return f"${name}", value
    kept = _from_keyring(provider.name)
    if kept and kept.strip():
        return f"the OS keyring's entry {SERVICE}/{provider.name}", kept.strip()
    return None


def _usable(value: str, where: str, remedy: str) -> str:
    """``value`` when an HTTP header can carry it; else a ``ConfigError`` naming ``where``
    and what is wrong, never the value."""
    if _UNUSABLE.search(value):
        raise ConfigError(
            f"the API key in {where} holds {_what(value)}, which no API key has and no HTTP "
            f"header can carry — {remedy}"
        )
    return value


def _what(value: str) -> str:
    bad = _UNUSABLE.search(value)
    if bad is None:
        return "nothing wrong"
    return "a character outside ASCII" if ord(bad.group()) > 0x7F else "a control character"


def _again(provider: ProviderConfig, where: str) -> str:
    if where.startswith("$"):
        return f"set {where} to the key alone (copy it again from the vendor's page)"
    return f"store it again: `freehold providers add {provider.name} --kind {provider.kind} --key`"


def _env_names(provider: ProviderConfig, default_env: str | None) -> list[str]:
    names = [provider.api_key_env] if provider.api_key_env else []
    if provider.base_url is None and default_env and default_env not in names:
        names.append(default_env)
    return names


def _from_keyring(name: str) -> str | None:
    try:
        return keyring.get_password(SERVICE, name) or None
    except (keyring.errors.KeyringError, RuntimeError, OSError):
        return None


def store_key(name: str, key: str) -> None:
    """Keep ``key`` (ends stripped) in the OS keyring for provider ``name``; a key no HTTP
    header can carry is refused (``_usable``)."""
    key = _usable(key.strip(), "the key given for the keyring", "give the key alone")
    try:
        keyring.set_password(SERVICE, name, key)
    except (keyring.errors.KeyringError, RuntimeError, OSError) as error:
        raise ConfigError(
            f"the OS keyring cannot store the key ({type(error).__name__}) — set an "
            f"environment variable instead and name it with --api-key-env"
        ) from error


def kept_key(name: str) -> str | None:
    """The key the OS keyring holds for provider ``name`` (None: none, or no keyring)."""
    return _from_keyring(name)


def put_back(name: str, previous: str | None) -> None:
    """The keyring as it was before ``store_key``: ``previous`` again, or no key."""
    if previous is None:
        forget_key(name)
    else:
        store_key(name, previous)


def forget_key(name: str) -> bool:
    """Remove provider ``name``'s key from the keyring; False when it held none."""
    try:
        if keyring.get_password(SERVICE, name) is None:
            return False
        keyring.delete_password(SERVICE, name)
    except (keyring.errors.KeyringError, RuntimeError, OSError):
        return False
    return True
