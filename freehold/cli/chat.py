"""``freehold chat``: ask a model, or carry on any archived conversation (docs/chat.md).

The command parses flags and prints; ``freehold.chat.Session`` stores and asks. The answer
streams to the terminal as rendered Markdown (to a pipe: as plain text, piece by piece);
warnings, failovers and the footer (who answered, tokens, cost) go to stderr, so stdout holds
the answer alone. Ctrl-C stops an answer and keeps what arrived as ``interrupted`` (in an
interactive session the session then goes on). SIGTERM and SIGHUP stop it the same way
(``stopped_by_signals``, as for ``import``), then end the command, interactive or not. Exit
status: 0 for a complete answer, 1 for an incomplete or failed one, 130 when interrupted by
Ctrl-C, 128 + the signal's number (143, 129) when stopped by SIGTERM or SIGHUP.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext, suppress

import click
from rich.live import Live
from rich.markdown import Markdown

from freehold import render
from freehold.chat import Pending, Reply, Session
from freehold.cli._base import Stopped, archive_session, err, out, print_json, stopped_by_signals
from freehold.cli.profile import reviewed, stdin_can_answer
from freehold.config import Config, Target, load_config
from freehold.errors import FreeholdError
from freehold.providers.base import Text
from freehold.router import Notice

__all__ = ["chat"]

_EXIT = {"complete": 0, "incomplete": 1, "failed": 1, "interrupted": 130}


@click.command()
@click.argument("prompt", required=False)
@click.option(
    "-m", "--model", help="A model: provider:exact-model-id, or an alias from config.toml."
)
@click.option(
    "-r",
    "--route",
    metavar="ROUTE",
    help="A route from config.toml (default: the route named default).",
)
@click.option(
    "--continue",
    "conversation",
    metavar="CONVERSATION",
    help="Carry on this archived conversation (any id `show` takes), from any source.",
)
@click.option(
    "--at",
    metavar="MESSAGE",
    help="Continue from this message (an id from `show --json`), not the visible leaf.",
)
@click.option("--system", metavar="TEXT", help="A system prompt for this turn (stored with it).")
@click.option(
    "--profile",
    "profile_name",
    metavar="NAME",
    help="Wear this profile (docs/profiles.md): its text joins the system prompt, stored with it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer and its story as JSON.")
@click.option("--no-stream", is_flag=True, help="Ask for the whole answer at once.")
def chat(
    prompt: str | None,
    model: str | None,
    route: str | None,
    conversation: str | None,
    at: str | None,
    system: str | None,
    profile_name: str | None,
    as_json: bool,
    no_stream: bool,
) -> None:
    """Ask a model through the providers in config.toml, with failover along a route; or carry
    on an archived conversation (--continue) with any of them. New turns are stored as a new
    branch; the imported messages never change.

    The prompt comes from PROMPT, else from stdin; with neither and a terminal, an
    interactive session starts (Ctrl-D or 'exit' to leave).
    """
    if model and route:
        raise click.UsageError("give -m or -r, not both")
    if at and not conversation:
        raise click.UsageError("--at needs --continue CONVERSATION")
    target = _target(model, route)
    text = prompt if prompt is not None else _stdin()
    if text is None and as_json:
        raise click.UsageError("--json needs a prompt: give PROMPT or pipe it in")
    if text is not None and not text.strip():
        raise click.UsageError("the prompt is empty")
    if profile_name:
        system = _with_profile(profile_name, system)
    with stopped_by_signals(), archive_session(create=True) as archive:
        session = Session(
            archive,
            _config(),
            target,
            conversation=conversation,
            at=at,
            system=system,
            stream=not no_stream,
        )
        try:
            if text is None:
                _interactive(session)
                return
            reply = _turn(session, text, as_json=as_json, stream=not no_stream)
        finally:
            session.close()
    if _EXIT[reply.status]:
        raise click.exceptions.Exit(_EXIT[reply.status])


def _config() -> Config:
    try:
        return load_config()
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error


def _target(model: str | None, route: str | None) -> Target:
    config = _config()
    try:
        if model:
            return config.model(model)
        if route:
            return config.route(route)
        if "default" in config.routes:
            return config.route("default")
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    raise click.UsageError(
        "no model chosen — give -m provider:model or -r ROUTE, or add [routes.default] to "
        f"{config.path} (docs/providers.md)"
    )


def _with_profile(name: str, system: str | None) -> str:
    """The profile's text as it may leave (reviewed: ``cli/profile.py``), then --system."""
    try:
        worn, _ = reviewed(
            name, None, yes=False, strike_all=False, ask=stdin_can_answer(), flags=False
        )
    except FreeholdError as error:
        raise click.ClickException(str(error)) from error
    return "\n\n".join(text for text in (worn.system, system) if text)


def _stdin() -> str | None:
    return None if sys.stdin.isatty() else sys.stdin.read()


def _turn(session: Session, prompt: str, *, as_json: bool, stream: bool) -> Reply:
    pending = session.ask(prompt)
    if not as_json:
        for warning in pending.warnings:
            err.print(f"warning: {warning}", style="yellow", soft_wrap=True)
    mode = "json" if as_json else "whole" if not stream else "live" if out.is_terminal else "plain"
    stopped: Stopped | None = None
    try:
        _show(pending, mode)
    except KeyboardInterrupt:
        pending.run.stop()
    except Stopped as stop:  # SIGTERM, SIGHUP: store what came as Ctrl-C does, then end
        pending.run.stop()
        stopped = stop
    reply = pending.finish()
    with suppress(OSError) if stopped else nullcontext():  # a hung-up terminal cannot be told
        if as_json:
            print_json(reply.to_json())
        else:
            _footer(reply, printed=stream)
    if stopped:
        raise stopped
    return reply


def _show(pending: Pending, mode: str) -> None:
    """Print the answer as it comes: Markdown redrawn in place on a terminal ("live"), plain
    pieces to a pipe ("plain"); nothing yet for "whole" (--no-stream) and "json"."""
    if mode != "live":
        for event in pending.run:
            if isinstance(event, Notice) and mode != "json":
                err.print(f"… {event.text}", style="yellow", soft_wrap=True)
            elif isinstance(event, Text) and mode == "plain":
                click.echo(render.visible(event.text), nl=False)
        if mode == "plain":
            click.echo("")
        return
    text = ""
    with Live(console=out, refresh_per_second=8, vertical_overflow="visible") as screen:
        for event in pending.run:
            if isinstance(event, Notice):
                screen.console.print(f"… {event.text}", style="yellow", soft_wrap=True)
                continue
            text += event.text
            screen.update(Markdown(render.visible(text)))


def _footer(reply: Reply, *, printed: bool) -> None:
    if not printed:  # --no-stream: the whole answer now
        if out.is_terminal:
            out.print(Markdown(render.visible(reply.text)))
        else:
            click.echo(render.visible(reply.text))
    details = [f"{reply.provider}:{reply.requested_model}" if reply.provider else "no answer"]
    if reply.served_model and reply.served_model != reply.requested_model:
        details.append(f"served {reply.served_model}")
    if reply.tokens_in is not None or reply.tokens_out is not None:
        details.append(f"{reply.tokens_in or 0:,} → {reply.tokens_out or 0:,} tokens")
    if reply.cost_usd is not None:
        details.append(f"~${reply.cost_usd:.4f}")
    details.append(f"message {reply.message_id} in {reply.conversation_id}")
    err.print("— " + " · ".join(details), style="dim", soft_wrap=True)
    for line in render.attempt_lines(reply.attempts):
        err.print(line, style="dim", soft_wrap=True)
    for warning in reply.warnings:
        err.print(f"warning: {warning}", style="yellow", soft_wrap=True)
    if reply.status != "complete":
        why = f": {reply.error}" if reply.error else ""
        err.print(f"{reply.status}{why}", style="red", soft_wrap=True)


def _interactive(session: Session) -> None:
    names = ", ".join(str(ref) for ref in session.target.models)
    where = session.conversation_id or "a new conversation"
    err.print(
        f"chat with {session.target.name} ({names}) in {where} — "
        "Ctrl-D or 'exit' to leave, Ctrl-C stops an answer"
    )
    while True:
        try:
            prompt = out.input("> ")
        except (EOFError, KeyboardInterrupt):
            err.print("")
            return
        if prompt.strip() in ("exit", "quit", "/exit", "/quit"):
            return
        if prompt.strip():
            _turn(session, prompt, as_json=False, stream=session.stream)
