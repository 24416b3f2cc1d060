"""Where a provider's API key comes from: its environment variable, else the OS keyring.

Keys never touch config.toml, the archive, exports, logs or error messages. ``api_key``
reads, in order: the variable the provider names (``api_key_env``); for a provider that
speaks to its vendor's own endpoint (no ``base_url``), the kind's usual variable
(``ANTHROPIC_API_KEY``…) — never for a ``base_url`` server, so an OpenAI key is not handed
to a third-party compatible server by accident; then the keyring (service ``freehold``,
user = the provider's name). A keyring that cannot be reached (no backend, a locked store)
counts as holding nothing: the caller says which variable to set.
"""

from __future__ import annotations

import os

import keyring
import keyring.errors

from freehold.config import ProviderConfig
from freehold.errors import ConfigError

__all__ = ["SERVICE", "api_key", "forget_key", "kept_key", "key_source", "put_back", "store_key"]

SERVICE = "freehold"


def api_key(provider: ProviderConfig, default_env: str | None = None) -> str | None:
    """The key for ``provider``, or None when none is set anywhere."""
    for name in _env_names(provider, default_env):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return _from_keyring(provider.name)


def key_source(provider: ProviderConfig, default_env: str | None = None) -> str:
    """Where the key would come from, in words (never the key): for ``providers list``."""
    for name in _env_names(provider, default_env):
        if os.environ.get(name, "").strip():
            return f"${name}"
    if _from_keyring(provider.name):
        return "keyring"
    wanted = " or ".join(f"${n}" for n in _env_names(provider, default_env))
    return f"none ({wanted} not set)" if wanted else "none"


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
    """Keep ``key`` in the OS keyring for provider ``name``."""
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
