"""The ``freehold`` command: thin click commands over the library.

Each command parses flags, calls the archive or an importer/exporter, and prints with rich.
Library errors (``FreeholdError``) become one-line ``click.ClickException`` messages here and
nowhere else. Every listing command has ``--json``.

Whatever comes from an export is printed through ``render.visible`` (see ``freehold.render``):
rich output by the ``render.Terminal`` consoles, error messages by the command group, JSON by
``_print_json``, so no escape sequence in an export ever reaches the terminal.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from freehold import __version__, plugins, progress, render
from freehold._queries import parse_when
from freehold.archive import Archive, open_archive
from freehold.errors import FreeholdError
from freehold.ingest import import_path

__all__ = ["cli", "json_option", "main"]

F = TypeVar("F", bound=Callable[..., Any])
out = render.Terminal(highlight=False, markup=False)
err = render.Terminal(stderr=True, highlight=False, markup=False)


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        function
    )


def _registered(noun: str, names: Callable[[], Iterable[str]]) -> Callable[..., Any]:
    """A click callback taking a registered name (an importer's kind, an exporter's format) in
    any case, and refusing any other with the choices."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        known = sorted(names())
        if value.lower() not in known:
            raise click.BadParameter(f"unknown {noun} {value!r}; choose one of: {', '.join(known)}")
        return value.lower()

    return check


def _source_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--source",
        callback=_registered("source kind", plugins.importers),
        help=f"{help_text} (chatgpt, claude, gemini, …).",
    )


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--since``/``--until``: refused here, before the archive is opened, when not a date."""
    if value is not None:
        try:
            parse_when(value)
        except FreeholdError as error:
            raise click.BadParameter(str(error)) from error
    return value


def _period_options(what: str) -> Callable[[F], F]:
    """``--since`` and ``--until`` (inclusive) over ``what``'s dates."""
    formats = "YYYY, YYYY-MM, YYYY-MM-DD or an ISO time"
    since = click.option("--since", callback=_date, help=f"Only {what} from this date: {formats}.")
    until = click.option(
        "--until", callback=_date, help=f"Only {what} up to this date, inclusive: {formats}."
    )
    return lambda function: since(until(function))


def _check_period(since: str | None, until: str | None) -> None:
    if since and until and parse_when(since) >= parse_when(until, end=True):
        raise click.UsageError(f"--since {since} is after --until {until}: nothing can match")


def _print_json(value: Any) -> None:
    dumped = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    click.echo(render.json_text(dumped))


def _tell(text: str) -> None:
    click.echo(text, err=True)


@contextmanager
def _archive(*, create: bool = False) -> Iterator[Archive]:
    """The archive, for one command. Only ``import`` creates one (``create``): any other
    command on a data folder without an archive says where it looked and creates nothing,
    and an import that stored nothing takes back what creating the archive made."""
    try:
        archive = open_archive(notice=_tell, create=create)
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    try:
        yield archive
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    finally:
        archive.discard_if_empty()  # closes it; removes only an archive made just now


class _Commands(click.Group):
    """The command group: a library error's message is made visible before click prints it.

    Those are plain ``ClickException``s (they may quote an export); click's own usage errors
    quote values with ``repr``, which escapes control characters already.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            if type(error) is not click.ClickException:
                raise
            raise click.ClickException(render.visible(error.message)) from error.__cause__


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="freehold")
def cli() -> None:
    """freehold: your AI history, on ground you own.

    The archive lives in one folder: FREEHOLD_HOME, or the platform's user data folder.
    """


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def import_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Import exports (zip, folder or JSON) of ChatGPT, Claude, Gemini, Open WebUI, LibreChat,
    Google AI Studio, Grok, Mistral; an llm logs.db; or a 'freehold export --format json' folder.

    The source is detected. Importing the same file again changes nothing; a newer export adds
    and updates, never deletes. Exits non-zero when anything was skipped.
    """
    reports = []
    failed = False
    with _archive(create=True) as archive:
        for path in paths:
            try:
                with progress.reading(err, path.name) as tick:
                    report = import_path(archive, path, progress=tick)
            except FreeholdError as error:
                err.print(f"Error: {error}")
                failed = True
                continue
            reports.append(report.to_json())
            if not as_json:
                out.print(render.import_report(reports[-1]))
                _print_problems(reports[-1])
    if as_json and reports:
        _print_json(reports if len(paths) > 1 else reports[0])
    if failed or not all(r["ok"] for r in reports):
        raise click.exceptions.Exit(1)


def _print_problems(report: dict[str, Any]) -> None:
    for problem in report["problems"][:50]:
        style = "red" if problem["lost"] else "yellow"
        line = f"{'lost' if problem['lost'] else 'note'}: {problem['where']}: {problem['what']}"
        err.print(render.visible(line), style=style)
    if report["problem_count"] > 50:
        err.print(f"… {report['problem_count'] - 50} more: use --json for the full list")


@cli.command()
@json_option
def stats(as_json: bool) -> None:
    """What the archive holds (conversations, messages on every branch, attachments, imports)
    and where it is."""
    with _archive() as archive:
        numbers = {"archive": str(archive.path), **archive.stats()}
    if as_json:
        _print_json(numbers)
    else:
        out.print(render.stats_table(numbers))


@cli.command()
@click.argument("query")
@_source_option("Only messages from this source kind")
@click.option("--model", help="Only messages from models whose slug starts with this.")
@click.option(
    "--role",
    type=click.Choice(["user", "assistant", "system", "tool"], case_sensitive=False),
    help="Only messages of this role.",
)
@_period_options("messages")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
def search(query: str, as_json: bool, limit: int, **filters: Any) -> None:
    """Full-text search over every message, ranked, with highlighted snippets.

    Every word must match; "a phrase" matches words in a row; OR between two words matches
    either; word* matches words starting with it. Anything else is a literal word.
    """
    _check_period(filters["since"], filters["until"])
    with _archive() as archive:
        try:
            hits = archive.search(query, limit=limit, **filters)
        except FreeholdError as error:
            raise click.ClickException(str(error)) from error
    if as_json:
        _print_json([hit.to_json() for hit in hits])
        return
    if not hits:
        err.print("no matches" + _filters_text(filters))
    for line in render.search_hits(hits):
        out.print(line)


def _given(filters: dict[str, Any]) -> str:
    """``--source chatgpt, --model gpt-5``: the filters used, which a reader may have mistyped."""
    return ", ".join(f"--{name} {value}" for name, value in filters.items() if value)


def _filters_text(filters: dict[str, Any]) -> str:
    given = _given(filters)
    return f" with {given}" if given else ""


@cli.command()
@click.argument("conversation")
@click.option("--all-branches", is_flag=True, help="Show every branch, not only the visible one.")
@json_option
def show(conversation: str, all_branches: bool, as_json: bool) -> None:
    """Read one conversation: by freehold id, source id, or a unique prefix of either."""
    from freehold.exporters.json import conversation_to_json

    with _archive() as archive:
        try:
            conv = archive.get_conversation(conversation)
        except FreeholdError as error:
            raise click.ClickException(str(error)) from error
    if as_json:
        _print_json(conversation_to_json(conv))
        return
    for item in render.conversation(conv, all_branches=all_branches):
        out.print(item)


@cli.command()
@click.option(
    "--format",
    "format_name",
    required=True,
    callback=_registered("format", plugins.exporters),
    help="Output format: json, markdown, html, pdf, csv, jsonl, openwebui.",
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--all-branches", is_flag=True, help="Render every branch in full.")
@_source_option("Only conversations from this source kind")
@_period_options("conversations created")
@click.option("--model", help="Only conversations with a model whose slug starts with this.")
@click.option("--query", help="Only conversations with a message matching this search.")
@click.option("--id", "ids", multiple=True, help="Only these conversations (repeatable).")
def export(
    format_name: str, out_dir: Path, all_branches: bool, ids: tuple[str, ...], **filters: Any
) -> None:
    """Write the archive (or a selection) in an open format, into a new folder."""
    exporters = plugins.exporters()
    _check_period(filters["since"], filters["until"])
    with _archive() as archive:
        try:
            wanted = [archive.resolve(ref) for ref in ids] if ids else None
            selected = archive.select(ids=wanted, **filters)
            if not selected:
                raise click.ClickException(_nothing_selected(filters, ids))
            label = f"export {format_name}"
            with progress.counting(err, label, len(selected)) as tick:
                count = exporters[format_name].write(
                    archive,
                    archive.iter_conversations(ids=selected),
                    out_dir,
                    all_branches=all_branches,
                    progress=tick,
                )
        except FreeholdError as error:
            raise click.ClickException(str(error)) from error
    err.print(f"wrote {progress.plural(count, 'conversation')} to {out_dir}", soft_wrap=True)


def _nothing_selected(filters: dict[str, Any], ids: tuple[str, ...]) -> str:
    given = _given({**filters, "id": " ".join(ids)})
    if not given:
        return "the archive holds no conversations — import an export first; nothing written"
    return f"no conversation matches {given} — nothing written"


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
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
    help="Another host name the server may be reached by (e.g. behind a reverse proxy).",
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
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    try:
        app = create_app(
            home_dir(),
            token,
            port=port,
            hosts={host, *allow_hosts},
            max_upload=max_upload << 20,
            notice=_tell,
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
        _tell(
            f"warning: listening on {host}: the archive is reachable from the network by "
            "anyone who has the address below; use the default --host 127.0.0.1 unless you "
            "mean to share it"
        )
    _tell(f"freehold is serving {home}; open this address once (it holds the token):")
    # click, not rich: rich would wrap a long address, and the address must stay clickable.
    click.echo(url)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed; a taken port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only then (else ~40 ms per small page).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise click.ClickException(
            f"{host}:{port}: cannot listen ({error.strerror}) — choose another --port "
            "(0 picks a free one) or stop what is using it"
        ) from error
    return sock


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="freehold")


if __name__ == "__main__":
    main()
