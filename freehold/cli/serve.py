"""``freehold serve``: the local web app, on a socket bound before anything is printed."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import click

from freehold.cli._base import not_blank, tell
from freehold.errors import FreeholdError

__all__ = ["listen", "serve"]

_EVERY = ("0.0.0.0", "::")  # every address of this machine: each is its own Host (security.py)
_ANY_ADDRESS = " with one of this machine's addresses in place of 127.0.0.1"
_HOSTS = "give --host one of this machine's addresses (127.0.0.1; 0.0.0.0 for all of them)"


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    callback=not_blank,
    show_default=True,
    help="Address to listen on (anything but a loopback address opens the archive to the network).",
)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="FREEHOLD_TOKEN",
    help="Access token, at least 16 letters, digits or . _ ~ - (default: FREEHOLD_TOKEN, "
    "else a new random one each start).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    help="Another host name the server may be reached by (a LAN name, or behind a reverse "
    "proxy); the addresses it listens on need none.",
)
@click.option(
    "--max-upload",
    default=8192,
    show_default=True,
    type=click.IntRange(1),
    help="Largest upload accepted on the import page, in MB.",
)
@click.option(
    "--open",
    "open_browser",
    is_flag=True,
    help="Open the app in a web browser (with a one-time code, not the token).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    token: str | None,
    allow_hosts: tuple[str, ...],
    max_upload: int,
    open_browser: bool,
) -> None:
    """Browse, search and read the archive in a local web app.

    Prints the address with its access token on stdout (notices go to stderr); open that
    once, and the browser keeps the token in a cookie. Listens on 127.0.0.1 only unless
    --host says otherwise. --open hands the browser a one-time code instead of the token,
    since a browser's command line is visible to every user of the machine.
    """
    import uvicorn

    from freehold.archive import home_dir
    from freehold.web import create_app, serving

    token = _serve_token(ctx, token)  # before listening: a bad token changes nothing
    sock = listen(host, port)
    port = sock.getsockname()[1]
    try:
        app = create_app(
            home_dir(),
            token,
            port=port,
            hosts={host, *allow_hosts},
            max_upload=max_upload << 20,
            notice=tell,
        )
    except FreeholdError as error:
        sock.close()
        raise click.ClickException(str(error)) from error
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    _announce(host, home_dir(), f"{base}?token={token}")
    if open_browser:
        import webbrowser

        webbrowser.open(f"{base}?code={app.codes.issue()}")
    config = serving.Config(app, log_level="warning", server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def _serve_token(ctx: click.Context, token: str | None) -> str:
    """--token or FREEHOLD_TOKEN when the app accepts it (the error names which one was
    wrong), else a new random token."""
    from click.core import ParameterSource

    from freehold.web import new_token
    from freehold.web.security import check_token

    if not token:
        return new_token()
    from_env = ctx.get_parameter_source("token") is ParameterSource.ENVIRONMENT
    try:
        return check_token(token)
    except FreeholdError as error:
        named = "FREEHOLD_TOKEN" if from_env else "--token"
        raise click.ClickException(f"{named}: {error}") from error


def _announce(host: str, home: Path, url: str) -> None:
    """Notices on stderr; the address, the command's output, alone on stdout."""
    from freehold.web.security import is_loopback

    if not is_loopback(host):
        tell(
            f"warning: listening on {host}: the archive is reachable from the network by "
            f"anyone who has the address below{_ANY_ADDRESS if host in _EVERY else ''}; to "
            "use a host name instead, add --allow-host <name>. Use the default --host 127.0.0.1 "
            "unless you mean to share it"
        )
    tell(f"freehold is serving {home}; open this address once (it holds the token):")
    # click, not rich: rich would wrap a long address, and the address must stay clickable.
    click.echo(url)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound and listening before anything is printed (a browser opened
    at once, or a script reading the address, is queued until the app starts, never refused);
    a taken port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only then (else ~40 ms per small page).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError as error:
        sock.close()
        raise click.ClickException(_cannot_listen(host, port, error)) from error
    return sock


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    """What went wrong, naming the option to change: the host (no such name, not an address of
    this machine), or the port (taken, or below 1024 without the right)."""
    if isinstance(error, socket.gaierror):
        return f"{host}: no such address or host name ({error.strerror}) — {_HOSTS}"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host}: not an address of this machine ({error.strerror}) — {_HOSTS}"
    where = f"{host}:{port}: cannot listen ({error.strerror})"
    if error.errno == errno.EACCES:
        return f"{where} — ports below 1024 need privileges: choose another --port"
    return f"{where} — choose another --port (0 picks a free one) or stop what is using it"
