"""``freehold profile``: custom instructions and memory as a portable profile (docs/profiles.md).

The commands parse flags, call ``freehold.profiles`` and print. What leaves the machine
(``export``, ``apply``, ``chat --profile``) is reviewed first (``reviewed``): each likely
secret or piece of personal data nobody decided on is shown, masked, with where it is, and the
person keeps or strikes it — the answer is remembered for the profile. ``--yes`` keeps all and
``--strike-all`` strikes all, for that run only. With no one to ask, the command refuses.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from freehold import profiles, secrets
from freehold._words import plural
from freehold.cli._base import archive_session, err, json_option, out, print_json, tell
from freehold.config import Config, Target, load_config
from freehold.errors import FreeholdError
from freehold.profiles import PendingError, Profile, Review, store

__all__ = [
    "profile_group",
    "reviewed",
    "stdin_can_answer",
]


def _fail(error: FreeholdError) -> click.ClickException:
    return click.ClickException(str(error))


def _new_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A name a profile may be kept under, checked before anything is read or written."""
    try:
        store.folder(value)
    except FreeholdError as error:
        raise click.BadParameter(str(error)) from error
    return value


@click.group("profile")
def profile_group() -> None:
    """Your custom instructions and memory as a profile any model can wear: drafted from the
    archive, reviewed and edited by you (every version kept), used with `chat --profile`,
    exported for ChatGPT, Claude and Gemini."""


@profile_group.command("create")
@click.argument("name", callback=_new_name)
@click.option(
    "--include",
    "include",
    multiple=True,
    metavar="NAME",
    help="Add these project / chat instructions (names as listed; 'all' for every one).",
)
@click.option(
    "--again", is_flag=True, help="The name exists: keep a fresh draft as its next version."
)
@json_option
def create_command(name: str, include: tuple[str, ...], again: bool, as_json: bool) -> None:
    """Draft profile NAME from the archive: the newest custom instructions, every memory note
    with its date, and the instructions you --include. Review it with `profile show`, change
    it with `profile edit`."""
    with archive_session() as archive:
        found = profiles.gather(archive)
    if found.empty:
        raise click.ClickException(
            "the archive holds no custom instructions, memory or project instructions — import "
            "an export that has them (docs/profiles.md), or write a profile by hand with "
            f"`freehold profile edit {name} --from FILE`"
        )
    try:
        made = profiles.create(found, name, list(include), again=again)
    except FreeholdError as error:
        raise _fail(error) from error
    if as_json:
        print_json(_summary(made) | {"available": [s.name for s in found.sets]})
        return
    out.print(f"profile {made.name}, version {made.version}: {made.path}", soft_wrap=True)
    for section in made.sections:
        notes = f", {plural(len(section.notes), 'note')}" if section.kind == "memory" else ""
        out.print(f"  {section.title or '(untitled)'}: {len(section.text):,} characters{notes}")
    for line in made.meta.get("not_included", []):
        err.print(f"not included: {line}", style="yellow", soft_wrap=True)
    tell(f"review it: freehold profile show {name}; change it: freehold profile edit {name}")


@profile_group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Every profile: its newest version, when it was saved, its size."""
    try:
        rows = [_summary(profiles.load_profile(name)) for name in profiles.names()]
    except FreeholdError as error:
        raise _fail(error) from error
    if as_json:
        print_json(rows)
        return
    if not rows:
        tell("no profiles yet — make one with `freehold profile create NAME`")
    for row in rows:
        out.print(
            f"{row['name']}  version {row['version']} of {len(row['versions'])}  "
            f"saved {row['saved']}  {row['characters']:,} characters  {row['path']}",
            soft_wrap=True,
        )


@profile_group.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, help="An earlier version (default: the newest).")
@click.option("--system", is_flag=True, help="Only the text a model gets.")
@json_option
def show_command(name: str, version: int | None, system: bool, as_json: bool) -> None:
    """Print profile NAME (the file: front matter and text), and what would be flagged before
    it leaves."""
    try:
        profile = profiles.load_profile(name, version)
        check = profiles.review(profile)
    except FreeholdError as error:
        raise _fail(error) from error
    if as_json:
        flags = [_finding_json(f, check) for f in check.findings]
        print_json(_summary(profile) | {"text": profile.system, "flags": flags})
        return
    click.echo(profile.system if system else profiles.render(profile), nl=not system)
    if system:
        click.echo("")
    for finding in check.findings:
        decision = check.decided.get(finding.fingerprint, "not reviewed")
        err.print(
            f"flag: {finding.label} {finding.masked} — {decision}", style="yellow", soft_wrap=True
        )


@profile_group.command("edit")
@click.argument("name", callback=_new_name)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Keep this file (a profile file, or freehold's JSON export of one) as the next "
    "version instead of opening an editor.",
)
def edit_command(name: str, source: Path | None) -> None:
    """Edit profile NAME in $VISUAL or $EDITOR (as git does); saving keeps a new version, the
    earlier ones stay. A name not taken yet starts a new profile."""
    try:
        current = profiles.render(profiles.load_profile(name)) if profiles.versions(name) else ""
    except FreeholdError as error:
        raise _fail(error) from error
    text = _read(source) if source else _edit(current or _blank(name))
    if text is None:
        tell(f"no change: {name} stays as it was")
        return
    try:
        where = str(source) if source else f"the edited text of {name}"
        saved = profiles.save_text(name, text, where=where)
    except FreeholdError as error:
        if source is None:
            kept = store.keep_rejected(name, text)
            raise click.ClickException(f"{error} (your text is kept in {kept})") from error
        raise _fail(error) from error
    if saved is None:
        tell(f"no change: {name} stays at its newest version")
        return
    out.print(f"profile {name}, version {saved.version}: {saved.path}", soft_wrap=True)


@profile_group.command("export")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(profiles.FORMATS),
    default="markdown",
    show_default=True,
    help="markdown / json, or text to paste into that platform's custom-instruction fields.",
)
@click.option(
    "--out", "target", type=click.Path(dir_okay=False, path_type=Path), help="Write here."
)
@click.option("--version", "version", type=int, help="An earlier version (default: the newest).")
@click.option("--yes", is_flag=True, help="Keep every flagged item not reviewed yet (this run).")
@click.option("--strike-all", is_flag=True, help="Strike every flagged item not reviewed yet.")
def export_command(
    name: str, fmt: str, target: Path | None, version: int | None, yes: bool, strike_all: bool
) -> None:
    """Export profile NAME. Platform formats fit each field's length limit and say on stderr
    what was cut; flagged secrets and personal data are reviewed first."""
    try:
        outgoing, check = reviewed(name, version, yes=yes, strike_all=strike_all, ask=True)
        exported = profiles.export(outgoing, fmt, struck=len(check.struck))
    except FreeholdError as error:
        raise _fail(error) from error
    for cut in exported.cuts:
        err.print(
            f"cut from {cut.field}: {cut.what}, {cut.chars:,} characters",
            style="yellow",
            soft_wrap=True,
        )
    if target is None:
        click.echo(exported.text, nl=False)
        return
    try:
        target.write_text(exported.text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"{target}: cannot be written ({error.strerror})") from error
    tell(f"wrote {target}")


@profile_group.command("apply")
@click.argument("name")
@click.argument("prompt", required=False)
@click.option("-m", "--model", help="A model: provider:exact-model-id, or an alias.")
@click.option("-r", "--route", metavar="ROUTE", help="A route (default: the route named default).")
@click.option("--yes", is_flag=True, help="Keep every flagged item not reviewed yet (this run).")
@click.option("--strike-all", is_flag=True, help="Strike every flagged item not reviewed yet.")
@json_option
def apply_command(
    name: str,
    prompt: str | None,
    model: str | None,
    route: str | None,
    yes: bool,
    strike_all: bool,
    as_json: bool,
) -> None:
    """Ask a model one question wearing profile NAME (as its system text, in the field its
    protocol reads), through the router with failover; nothing is stored. Without PROMPT it
    asks the model to say what it knows about you and how it will answer: the check that the
    profile applies."""
    if model and route:
        raise click.UsageError("give -m or -r, not both")
    config = _config()
    target = _target(config, model, route)
    try:
        outgoing, _ = reviewed(name, None, yes=yes, strike_all=strike_all, ask=True)
        answer = profiles.ask(outgoing.system, prompt or profiles.CHECK_PROMPT, config, target)
    except FreeholdError as error:
        raise _fail(error) from error
    if as_json:
        print_json(
            {
                "profile": name,
                "version": outgoing.version,
                "status": answer.status,
                "provider": answer.provider,
                "model": answer.requested_model,
                "served_model": answer.served_model,
                "text": answer.text,
                "error": answer.error,
                "attempts": [a.provider + ":" + a.model + " " + a.outcome for a in answer.attempts],
            }
        )
    else:
        click.echo(answer.text)
        who = f"{answer.provider}:{answer.requested_model}" if answer.provider else "no answer"
        err.print(f"— {name} v{outgoing.version} worn by {who}", style="dim", soft_wrap=True)
    if answer.status != "complete":
        raise click.ClickException(f"{answer.status}: {answer.error or 'the answer was cut'}")


# -- what leaves, reviewed -------------------------------------------------------------------


_FLAGS = ", or pass {keep} (keep all) or --strike-all (strike all) — for this run only"


def reviewed(
    name: str,
    version: int | None,
    *,
    yes: bool,
    strike_all: bool,
    ask: bool,
    flags: bool = True,
    keep_flag: str = "--yes",
) -> tuple[Profile, Review]:
    """Profile ``name`` as it may leave. Pending findings: kept (``yes``), struck
    (``strike_all``), asked about one by one (``ask``; each answer remembered), else
    ``PendingError`` — whose advice names the command's flag that keeps (``keep_flag``) and
    --strike-all when the command has them (``flags``)."""
    if yes and strike_all:
        raise click.UsageError(f"give {keep_flag} or --strike-all, not both")
    check = profiles.review(profiles.load_profile(name, version))
    if yes or strike_all:
        check.decide_all("keep" if yes else "strike")
    elif ask and check.pending:
        _ask_each(check, flags=flags)
    try:
        outgoing = check.outgoing()
    except PendingError as error:
        raise PendingError(str(error) + (_FLAGS.format(keep=keep_flag) if flags else "")) from None
    if check.struck:
        tell(f"struck {plural(len(check.struck), 'flagged item')} from what leaves", style="yellow")
    return outgoing, check


def _ask_each(check: Review, *, flags: bool) -> None:
    tell(
        f"{plural(len(check.pending), 'flagged item')} (likely secrets or personal data) in "
        f"{check.profile.name} "
        "(k: keep, s: strike; your answer is remembered for this profile):",
        style="yellow",
    )
    for finding in check.pending:
        err.print(f"  {finding.label}: {_context(check, finding)}", soft_wrap=True)
        try:
            answer = click.prompt("  keep or strike?", type=click.Choice(["k", "s"]), err=True)
        except click.Abort as error:
            raise PendingError(
                f"no answer for the {finding.label} {finding.masked} — review on a terminal"
                + (_FLAGS if flags else "")
            ) from error
        check.decide(finding, "keep" if answer == "k" else "strike", keep_record=True)


def _context(check: Review, finding: secrets.Finding) -> str:
    """The finding with up to 30 characters either side, on one line, every finding in
    sight masked (the screen may be shared); one in the front matter is said to be there."""
    if check.in_front(finding):
        return f"in the front matter: [{finding.masked}]"
    body = check.profile.body
    start, end = max(0, finding.start - 30), min(len(body), finding.end + 30)
    shown, at = "", start
    for other in check.findings:
        if check.in_front(other) or other.end <= start or other.start >= end:
            continue
        mark = f"[{other.masked}]" if other is finding else other.masked
        shown += body[at : max(at, other.start)] + mark
        at = max(at, other.end)
    shown += body[at:end]
    return "…" + " ".join(shown.split()) + "…"


def stdin_can_answer() -> bool:
    """``chat`` reads its prompt from a pipe: only a terminal may answer review questions."""
    return sys.stdin.isatty()


# -- helpers ---------------------------------------------------------------------------------


def _summary(profile: Profile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "version": profile.version,
        "versions": profiles.versions(profile.name),
        "saved": profile.saved,
        "characters": len(profile.system),
        "sections": [s.title for s in profile.sections],
        "path": str(profile.path) if profile.path else None,
    }


def _finding_json(finding: secrets.Finding, check: Review) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "label": finding.label,
        "masked": finding.masked,
        "start": finding.start,
        "end": finding.end,
        "fingerprint": finding.fingerprint,
        "where": "front matter" if check.in_front(finding) else "body",
        "decision": check.decided.get(finding.fingerprint),
    }


def _read(source: Path) -> str:
    try:
        return source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{source}: cannot be read as UTF-8 text ({error})") from error


def _edit(text: str) -> str | None:
    try:
        edited = click.edit(text, extension=".md", require_save=True)
    except click.ClickException as error:
        raise click.ClickException(
            f"{error.message} — set $EDITOR (e.g. EDITOR=nano), or use --from FILE"
        ) from error
    return None if edited is None or edited == text else edited


def _blank(name: str) -> str:
    body = "\n\n".join(f"## {title}\n" for title in profiles.HEADINGS.values())
    return f"---\nname: {name}\n---\n\n{body}"


def _config() -> Config:
    try:
        return load_config()
    except FreeholdError as error:
        raise _fail(error) from error


def _target(config: Config, model: str | None, route: str | None) -> Target:
    try:
        if model:
            return config.model(model)
        if route or "default" in config.routes:
            return config.route(route or "default")
    except FreeholdError as error:
        raise _fail(error) from error
    raise click.UsageError(
        "no model chosen — give -m provider:model or -r ROUTE, or add [routes.default] to "
        f"{config.path} (docs/providers.md)"
    )
