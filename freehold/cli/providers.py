"""``freehold providers add|list|remove|test``: the providers in config.toml (docs/providers.md).

Keys are never printed, written to config.toml or taken as an argument: ``add --key`` asks for
one without echo and keeps it in the OS keyring; ``list`` says only where a key comes from.
"""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from freehold import keys, plugins
from freehold.cli._base import ask_secret, err, json_option, out, print_json, registered, tell
from freehold.config import Config, ProviderConfig, add_provider, load_config, remove_provider
from freehold.errors import FreeholdError, ProviderError
from freehold.providers.base import ChatRequest, Finish, Meta, Text, Turn, connect

__all__ = ["providers"]

_PROBE = "Reply with the single word: ok"


@click.group()
def providers() -> None:
    """The providers freehold may call, in config.toml: add, list, remove, test."""


@providers.command()
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    callback=registered("provider kind", plugins.providers),
    help="anthropic, openai (any OpenAI-compatible server) or gemini.",
)
@click.option(
    "--base-url", help="The server's URL (e.g. http://127.0.0.1:11434/v1); none: the vendor's own."
)
@click.option("--api-key-env", help="The environment variable that holds the key.")
@click.option(
    "--key",
    "ask_key",
    is_flag=True,
    help="Ask for the key (not echoed) and keep it in the OS keyring.",
)
@click.option(
    "--context-window", type=click.IntRange(1), help="Tokens the models read (default: the kind's)."
)
@click.option("--images/--no-images", default=None, help="Whether its models take images.")
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    help="Seconds to wait for each read (default 60).",
)
def add(name: str, kind: str, ask_key: bool, **settings: Any) -> None:
    """Add (or replace) a provider in config.toml; hand edits and comments are kept."""
    given = {key: value for key, value in settings.items() if value is not None}
    provider = ProviderConfig(name, kind, **given)

    replaced: list[str | None] = []  # the key the keyring held, once the new one is stored

    def store_key() -> None:  # after the new file is checked, before it is written
        key = ask_secret(f"API key for {name}", "use --api-key-env NAME instead")
        previous = keys.kept_key(name)
        keys.store_key(name, key)
        replaced.append(previous)

    try:  # nothing is written unless all of it succeeds: the settings, then the key, then both
        try:
            path = add_provider(provider, before=store_key if ask_key else None)
        except BaseException:  # the file was not written: nor is the key (the old one back)
            if replaced:
                keys.put_back(name, replaced[0])
            raise
        cls = plugins.providers()[kind]
        source = keys.key_source(load_config().providers[name], cls.KEY_ENV)
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    where = provider.base_url or "the vendor's own endpoint"
    err.print(f"added provider {name} ({kind}, {where}) to {path}; key: {source}", soft_wrap=True)


@providers.command(name="list")
@json_option
def list_command(as_json: bool) -> None:
    """The configured providers (where each key comes from, never the key), aliases and
    routes."""
    config = _config()
    rows = [_row(config, name) for name in config.providers]
    if as_json:
        print_json({"providers": rows, "aliases": config.aliases, "routes": config.routes})
        return
    if not rows:
        tell(f"no providers in {config.path} — `freehold providers add NAME --kind …`")
        return
    table = Table(title=f"providers in {config.path}")
    for column in ("name", "kind", "endpoint", "key", "context", "images"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["name"],
            row["kind"],
            row["base_url"] or "vendor",
            row["key"],
            f"{row['context_window']:,}",
            "yes" if row["images"] else "no",
        )
    out.print(table)
    for alias, ref in config.aliases.items():
        out.print(f"alias {alias} = {ref}")
    for route, models in config.routes.items():
        out.print(f"route {route}: {' → '.join(models)}")


def _row(config: Config, name: str) -> dict[str, Any]:
    settings = config.providers[name]
    provider = plugins.providers()[settings.kind](settings)  # no key: its source is said
    return {
        "name": name,
        "kind": settings.kind,
        "base_url": settings.base_url,
        "api_key_env": settings.api_key_env,
        "key": keys.key_source(settings, provider.KEY_ENV),
        "context_window": provider.context_window,
        "images": provider.takes_images,
    }


@providers.command()
@click.argument("name")
@click.option("--forget-key", is_flag=True, help="Also remove its key from the OS keyring.")
def remove(name: str, forget_key: bool) -> None:
    """Remove a provider from config.toml (refused while an alias or route names it)."""
    try:
        remove_provider(name)
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    forgotten = forget_key and keys.forget_key(name)
    tell(f"removed provider {name}" + ("; its key left the keyring" if forgotten else ""))


@providers.command()
@click.argument("names", nargs=-1)
@click.option("--model", help="The model to ask (default: the first a route or alias names).")
@json_option
def test(names: tuple[str, ...], model: str | None, as_json: bool) -> None:
    """Send one tiny request to each provider (or those named) and say what works. Exits
    non-zero when any fails."""
    config = _config()
    unknown = [n for n in names if n not in config.providers]
    if unknown:
        raise click.ClickException(
            f"{config.path}: no provider {unknown[0]!r} — see `freehold providers list`"
        )
    results = [_probe(config, name, model) for name in names or tuple(config.providers)]
    if as_json:
        print_json(results)
    for result in results if not as_json else []:
        if result["ok"]:
            out.print(
                f"{result['provider']}: ok — {result['served_model']} answered "
                f"in {result['ms']:,} ms"
            )
        else:
            err.print(
                f"{result['provider']}: failed — {result['error']}", style="red", soft_wrap=True
            )
    if not results:
        tell(f"no providers in {config.path} — `freehold providers add NAME --kind …`")
    if not all(r["ok"] for r in results):
        raise click.exceptions.Exit(1)


def _probe(config: Config, name: str, model: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"provider": name, "model": None, "ok": False}
    started = time.monotonic()
    with connect(config.providers[name]) as provider:
        try:
            result["model"] = model or _model_for(config, name) or provider.list_models()[0]
            request = ChatRequest(result["model"], (Turn("user", (_PROBE,)),), max_tokens=16)
            events = list(provider.stream(request))
        except (ProviderError, IndexError) as error:
            result["error"] = (
                str(error) if isinstance(error, ProviderError) else "it serves no models"
            )
            return result
    result["ms"] = round((time.monotonic() - started) * 1000)
    served = [e.served_model for e in events if isinstance(e, Meta) and e.served_model]
    result.update(
        ok=any(isinstance(e, Finish) for e in events),
        served_model=served[-1] if served else result["model"],
        text="".join(e.text for e in events if isinstance(e, Text)),
    )
    return result


def _model_for(config: Config, name: str) -> str | None:
    written = [*config.aliases.values(), *(m for ms in config.routes.values() for m in ms)]
    for item in written:
        provider, _, model = config.aliases.get(item, item).partition(":")
        if provider == name and model:
            return model
    return None


def _config() -> Config:
    try:
        return load_config()
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
