"""Credentials in a destination's URL: refused when it is added, masked wherever one is shown.

rclone accepts a whole remote in one string, its parameters included (``:sftp,host=h,user=u,
pass=OBSCURED:path``, ``s3,secret_access_key=…:bucket``, ``:webdav,url='https://u:pw@h':``).
A password given there would sit in config.toml, in every listing and status line, in the
logs and in the run events — and rclone's "obscured" passwords are reversible (``rclone
reveal``). freehold keeps no password or token: ``backup add`` refuses such a URL and says to
make a named remote with ``rclone config`` (rclone keeps the secret in its own config). A URL
written into config.toml by hand is still never shown whole: ``masked`` puts ``***`` in
place of every secret value, in URLs and in any message that quotes one.

A parameter is a secret when its name (``-`` or ``_``, any case) holds ``pass``, ``secret``,
``token`` or ``credentials``, is ``key`` or ends in ``_key`` or is ``key_pem`` (an account key,
an API key, a private key's text), or is ``sas_url``; ``key_file``, ``access_key_id`` and
``token_url`` name a file, an id and an endpoint, not secrets. A password in a URL's user
part (``https://user:pw@host``) is one too.
"""

from __future__ import annotations

import re

__all__ = ["found", "masked"]

# name=value after the remote's name or another parameter; a value may be quoted
_PARAMETER = re.compile(
    r"(?P<lead>[,:])(?P<name>[A-Za-z][A-Za-z0-9_-]*)="
    r"""(?P<value>"(?:[^"]|"")*"|'(?:[^']|'')*'|\{[^}]*\}?|[^,:\s]*)"""
)
_USERINFO = re.compile(r"(?P<lead>://[^/:@\s'\"]+):(?P<value>[^@/\s'\"]+)@")
_NAMED = re.compile(r"pass|secret|token|credentials")


def _secret(name: str) -> bool:
    name = name.lower().replace("-", "_")
    if name.endswith("_url"):
        return name == "sas_url"
    if _NAMED.search(name):
        return True
    return name in ("key", "key_pem") or name.endswith("_key")


def found(url: str) -> list[str]:
    """The names of the secrets ``url`` carries (``user:password@`` as ``password``)."""
    names = [m["name"] for m in _PARAMETER.finditer(url) if _secret(m["name"])]
    return names + (["password"] if _USERINFO.search(url) else [])


def masked(text: str) -> str:
    """``text`` (a URL, or a message quoting one) with every secret value as ``***``."""

    def hide(match: re.Match[str]) -> str:
        if not _secret(match["name"]):
            return match[0]
        return f"{match['lead']}{match['name']}=***"

    text = _PARAMETER.sub(hide, text)
    return _USERINFO.sub(lambda m: f"{m['lead']}:***@", text)
