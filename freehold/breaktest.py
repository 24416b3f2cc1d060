"""The break test: if a provider or a backup destination vanished tomorrow, what would still work?

For each configured provider and each backup destination (or only those named), one **loss**
is simulated and five things are checked, each a ``Check`` that passes, fails, or was
``skipped`` (not proven, with the reason):

- **routes**: every route of config.toml still answers. A real tiny request goes through the
  ``Router`` with the lost provider refused: the router is given a ``_Lost`` provider in its
  place, which fails at once (a connection refused for good, not retryable), so the route
  fails over exactly as it would on the day, and the lost provider is never contacted.
  config.toml is never changed. Aliases that point to the lost provider are noted: ``-m
  ALIAS`` has no fallback by nature.
- **profiles**: every saved profile can still be worn: its text as the system prompt, on the
  route ``chat`` uses (``default``, else the first route), with the provider refused
  (``profile_texts`` is the one place that reads profiles). A profile that cannot be read
  (a broken file) fails; one whose flagged items are not reviewed yet is skipped.
- **history**: the archive is searchable and exportable offline: a word of the newest
  conversation that has one (of the 20 newest; a word of 4 or more letters if any has one) is
  searched and that conversation exported as JSON and Markdown; no provider and no network is
  used (the tests hold this under a socket guard). With no word to search for, it is skipped.
- **backups**: a real drill (``backup.restore.drill``: the latest snapshot restored into a
  scratch folder and compared with the archive) from each *remaining* destination; the lost
  one is never opened. Drills decrypt, so they need the passphrase; without one they are
  skipped and the loss is not proven.
- **exits**: no export of the exit plan is overdue, nor its newest one unusable
  (``exits.status``).

What does not depend on the loss is done once and shared: a route whose providers were not
lost answers the same in every block, a destination drills the same whichever other thing was
lost, the history and the exit plan are read once. ``Result`` is the scorecard; ``save`` keeps
the last one as JSON in ``break-test/last.json`` (private), which the web app shows.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from freehold import _private, exits
from freehold.archive import Archive, now_iso, open_archive
from freehold.backup import crypto, settings
from freehold.backup import restore as restoring
from freehold.backup.destinations import open_destination
from freehold.backup.settings import DestinationConfig
from freehold.backup.state import State, open_state
from freehold.config import Config, ModelRef
from freehold.errors import ConfigError, FreeholdError, NoArchiveError, ProviderError
from freehold.exporters import json as json_export
from freehold.exporters import markdown as markdown_export
from freehold.models import Conversation
from freehold.providers.base import ChatRequest, Event, Provider, Turn, connect
from freehold.router import Answer, Router

__all__ = [
    "FAIL",
    "PASS",
    "PROMPT",
    "SKIPPED",
    "BreakTest",
    "Check",
    "Loss",
    "Result",
    "Wearable",
    "exits_check",
    "history_check",
    "last",
    "last_path",
    "profile_texts",
    "save",
]

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
PROMPT = "Reply with the single word OK."
_MAX_TOKENS = 32
_WORD = re.compile(r"[^\W\d_]{4,}")
_SHORT_WORD = re.compile(r"[^\W\d_]+")
_NEWEST = 20  # the newest conversations looked at for a word to search for
Tick = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the scorecard: ``check`` (routes, profiles, history, backups, exits), what it
    is about (a route, a profile, a destination; "" for the whole), the status and why."""

    check: str
    subject: str
    status: str
    reason: str


@dataclass(slots=True)
class Loss:
    """One simulated loss (``kind`` provider or destination) and what survived it."""

    kind: str
    name: str
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def proven(self) -> bool:
        return self.ok and all(c.status == PASS for c in self.checks)

    def headline(self) -> str:
        failed = sum(c.status == FAIL for c in self.checks)
        skipped = sum(c.status == SKIPPED for c in self.checks)
        if failed:
            verdict = f"{failed} of {len(self.checks)} checks FAIL"
        elif skipped:
            verdict = f"not proven ({skipped} skipped)"
        else:
            verdict = "everything still works"
        return f"if {self.kind} {self.name} vanished tomorrow: {verdict}"


@dataclass(slots=True)
class Result:
    """A whole break test: when it ran, one ``Loss`` per simulated loss, and problems that
    belong to no loss (nothing configured to lose)."""

    ran_at: str
    losses: list[Loss]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(loss.ok for loss in self.losses)

    @property
    def proven(self) -> bool:
        return self.ok and all(loss.proven for loss in self.losses)

    def to_json(self) -> dict[str, Any]:
        losses = [{**asdict(loss), "ok": loss.ok, "proven": loss.proven} for loss in self.losses]
        return {
            "ran_at": self.ran_at,
            "ok": self.ok,
            "proven": self.proven,
            "losses": losses,
            "problems": self.problems,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        losses = [
            Loss(
                str(item["kind"]),
                str(item["name"]),
                [Check(**check) for check in item["checks"]],
                list(item["notes"]),
            )
            for item in data["losses"]
        ]
        return cls(str(data["ran_at"]), losses, list(data.get("problems", [])))


# -- the history, offline ---------------------------------------------------------------------


def history_check(home: Path) -> Check:
    """Search for a word of the newest conversation that has one and export that conversation
    as JSON and Markdown: no provider, no network, only the archive and a temporary folder."""
    try:
        archive = open_archive(home, create=False)
    except NoArchiveError:
        return Check("history", "", SKIPPED, f"no archive in {home} yet — freehold import EXPORT")
    with archive:
        rows = archive.conversation_rows(limit=_NEWEST, count=False).rows
        if not rows:
            return Check("history", "", SKIPPED, "the archive holds no conversation yet")
        try:
            found = _searchable(archive, [row.id for row in rows])
            if found is None:
                return Check("history", "", SKIPPED, _nothing_to_search(len(rows)))
            return _search_and_export(archive, *found)
        except (FreeholdError, OSError, ValueError) as error:
            return Check("history", "", FAIL, f"offline use failed: {error}")


def _searchable(archive: Archive, ids: list[str]) -> tuple[Conversation, str] | None:
    """The conversation to search for and its word: the newest with a word of 4 or more
    letters (a rare word, a precise search), else the newest with any word ("hi", "ok"); None
    when none of them holds a word."""
    fallback: tuple[Conversation, str] | None = None
    for cid in ids:
        conv = archive.get_conversation(cid)
        text = " ".join(m.text or "" for m in conv.messages if not m.hidden)[:20_000]
        long = _WORD.findall(text)
        if long:
            return conv, max(long, key=len)
        short = _SHORT_WORD.findall(text)
        if short and fallback is None:
            fallback = conv, max(short, key=len)
    return fallback


def _nothing_to_search(looked_at: int) -> str:
    if looked_at < _NEWEST:
        return "the archive holds no word to search for (no conversation has text)"
    return f"none of the {looked_at} newest conversations holds a word to search for"


def _search_and_export(archive: Archive, conv: Conversation, word: str) -> Check:
    title = conv.title or conv.id
    if not archive.search(word, conversation=conv.id, limit=1):
        return Check("history", "", FAIL, f"searching {word!r} does not find {title!r}")
    with tempfile.TemporaryDirectory(prefix="freehold-break-test-") as tmp:
        json_export.write(archive, [conv], Path(tmp) / "json")
        line = (Path(tmp) / "json" / json_export.CONVERSATIONS).read_bytes().split(b"\n")[0]
        if json_export.loads(line).get("id") != conv.id:
            return Check("history", "", FAIL, f"the JSON export lacks {title!r}")
        if markdown_export.write(archive, [conv], Path(tmp) / "markdown") != 1:
            return Check("history", "", FAIL, f"the Markdown export lacks {title!r}")
    return Check(
        "history",
        "",
        PASS,
        f"searching {word!r} finds {title!r}; exported as JSON and Markdown, no network used",
    )


# -- the exit plan ----------------------------------------------------------------------------


def exits_check(home: Path) -> Check:
    """No export of the exit plan is overdue, nor its newest one unusable (``exits.status``:
    read from the archive, no network)."""
    try:
        archive = open_archive(home, create=False)
    except NoArchiveError:
        return Check("exits", "", PASS, "no exit plan yet (freehold exits add PLATFORM)")
    with archive:
        plan = exits.status(archive)
    if not plan:
        return Check("exits", "", PASS, "the exit plan is empty (freehold exits add PLATFORM)")
    late = [f"{s.entry.name} ({_lateness(s)})" for s in plan if s.overdue]
    failed = [f"{s.entry.name} ({s.unusable[0].export.file_name})" for s in plan if s.unusable]
    if not late and not failed:
        return Check("exits", "", PASS, f"no export overdue ({len(plan)} platforms in the plan)")
    said = ([f"overdue: {', '.join(late)}"] if late else []) + (
        [f"newest export not usable: {', '.join(failed)}"] if failed else []
    )
    return Check("exits", "", FAIL, f"{'; '.join(said)} — freehold exits status says where")


def _lateness(state: exits.Status) -> str:
    if state.latest is None:
        return "no usable export" if state.unusable else "never exported"
    return f"{state.days_overdue} days"


# -- profiles ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wearable:
    """A saved profile and the text a model wears; ``system`` None: it may not leave yet
    (flags not reviewed: not proven), or — ``broken`` — it cannot be worn at all (a fault)."""

    name: str
    system: str | None
    why: str = ""
    broken: bool = False


def profile_texts() -> list[Wearable]:
    """Each saved profile with the text a model wears (as it may leave the machine): the one
    place the break test reads profiles, as ``chat --profile`` does (``review`` of the saved
    version, then ``outgoing``), without asking about flagged items."""
    from freehold import profiles  # loaded by a run that checks profiles, not by the web app

    found = []
    for name in profiles.names():
        try:
            outgoing = profiles.review(profiles.load_profile(name)).outgoing()
        except profiles.PendingError as error:  # the person has not decided yet: not proven
            found.append(Wearable(name, None, str(error)))
            continue
        except FreeholdError as error:  # a broken file: `chat --profile` fails on it too
            found.append(Wearable(name, None, str(error), broken=True))
            continue
        found.append(Wearable(name, outgoing.system))
    return found


# -- the test itself --------------------------------------------------------------------------


class _Lost(Provider):
    """What the router is given in place of a lost provider: every call refused at once."""

    KIND = "lost"

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        raise ProviderError(
            f"{self.name}: refused — the break test simulates its loss",
            kind="connection",
            retryable=False,  # gone for good: fail over now, no wait, no circuit
        )
        yield  # a generator, as the router expects: the fault comes on the first read


class BreakTest:
    """One break test over the data folder ``home`` and its ``config``: planned when made
    (``requests``, ``drills`` and ``steps`` say what running it costs), then ``run``.
    ``providers``/``destinations``: only the loss of these (names), else of every one."""

    def __init__(
        self,
        home: Path,
        config: Config,
        *,
        providers: Sequence[str] = (),
        destinations: Sequence[str] = (),
        passphrase: str | None = None,
    ) -> None:
        self.home = home
        self.config = config
        self.destinations = settings.load(home).destinations
        self.passphrase = passphrase
        self.profiles = profile_texts()
        self.losses = self._losses(providers, destinations)
        self.plan = {id(loss): self._items(loss) for loss in self.losses}
        self._live: dict[str, Provider] = {}
        self._identity: Any = None
        self._state: State | None = None

    def _losses(self, providers: Sequence[str], destinations: Sequence[str]) -> list[Loss]:
        _known(providers, self.config.providers, f"{self.config.path}: no provider", "providers")
        _known(destinations, self.destinations, "no backup destination", "backup destinations")
        if not providers and not destinations:
            providers, destinations = list(self.config.providers), list(self.destinations)
        providers, destinations = list(dict.fromkeys(providers)), list(dict.fromkeys(destinations))
        return [Loss("provider", n) for n in providers] + [
            Loss("destination", n) for n in destinations
        ]

    # -- the plan: each loss's checks, as steps (shared between losses) or known already

    def _items(self, loss: Loss) -> list[Step | Check]:
        lost = frozenset({loss.name} if loss.kind == "provider" else ())
        items: list[Step | Check] = [*self._routes(lost), *self._wearing(lost), ("history",)]
        remaining = [n for n in self.destinations if (loss.kind, loss.name) != ("destination", n)]
        items += [("drill", name) for name in remaining] or [_nowhere(bool(self.destinations))]
        items.append(("exits",))
        return items

    def _routes(self, lost: frozenset[str]) -> list[Step | Check]:
        if self.config.routes:
            return [("route", name, self._gone(name, lost)) for name in self.config.routes]
        if lost:
            return [Check("routes", "", FAIL, _NO_ROUTE)]
        return [Check("routes", "", PASS, "no route in config.toml")]

    def _wearing(self, lost: frozenset[str]) -> list[Step | Check]:
        if not self.profiles:
            return [Check("profiles", "", PASS, "no profiles (freehold profile create)")]
        route = self._profile_route()
        items: list[Step | Check] = []
        for profile in self.profiles:
            if profile.system is None:
                status = FAIL if profile.broken else SKIPPED
                items.append(Check("profiles", profile.name, status, profile.why))
            elif route is None:
                why = "no route to wear it on — add [routes.default] to config.toml"
                items.append(Check("profiles", profile.name, FAIL, why))
            else:
                items.append(("profile", profile.name, self._gone(route, lost)))
        return items

    def _profile_route(self) -> str | None:
        """The route ``chat`` takes without -r: ``default``, else (here) the first one."""
        routes = self.config.routes
        return "default" if "default" in routes else next(iter(routes), None)

    def _gone(self, route: str, lost: frozenset[str]) -> frozenset[str]:
        """The providers of ``route`` that are lost: all that changes its answer."""
        return frozenset(ref.provider for ref in self.config.route(route).models) & lost

    def steps(self) -> list[Step]:
        """Every step the run takes, each once, in order."""
        found = (item for items in self.plan.values() for item in items)
        return list(dict.fromkeys(item for item in found if isinstance(item, tuple)))

    def requests(self) -> int:
        """Tiny requests the run may send to providers (none to a lost one)."""
        asking = [s for s in self.steps() if s[0] in ("route", "profile")]
        return sum(not self._all_gone(step) for step in asking)

    def drills(self) -> int:
        """Destinations the run restores from (each once)."""
        return sum(step[0] == "drill" for step in self.steps())

    def _all_gone(self, step: Step) -> bool:
        route = step[1] if step[0] == "route" else self._profile_route()
        assert route is not None
        gone: frozenset[str] = step[2]
        return {ref.provider for ref in self.config.route(route).models} <= gone

    # -- the run

    def run(self, tick: Tick | None = None) -> Result:
        """Take every step once (``tick`` is told each one's name before it), then fill in
        each loss's scorecard."""
        result = Result(now_iso(), self.losses)
        if not self.losses:
            result.problems.append(_NOTHING)
        try:
            done = {}
            for step in self.steps():
                if tick is not None:
                    tick(" ".join(str(part) for part in step[:2]))
                done[step] = self._take(step)
        finally:
            self.close()
        for loss in self.losses:
            items = self.plan[id(loss)]
            loss.checks = [item if isinstance(item, Check) else done[item] for item in items]
            loss.notes = self._alias_notes(loss)
        return result

    def close(self) -> None:
        for provider in self._live.values():
            provider.close()
        self._live.clear()
        if self._state is not None:
            self._state.close()
            self._state = None

    def _take(self, step: Step) -> Check:
        kind = step[0]
        if kind == "route":
            return self._ask_route(step[1], step[2])
        if kind == "profile":
            return self._wear(step[1], step[2])
        if kind == "drill":
            return self._drill(self.destinations[step[1]])
        return history_check(self.home) if kind == "history" else exits_check(self.home)

    # -- routes and profiles: a real tiny request with the lost providers refused

    def _ask_route(self, route: str, gone: frozenset[str]) -> Check:
        models = self.config.route(route).models
        try:
            answer = self._ask(models, gone, None)
        except FreeholdError as error:  # a key that cannot be read, say
            return Check("routes", route, FAIL, str(error))
        if answer.status in ("complete", "incomplete"):
            moved = models[0].provider in gone
            after = f" (failed over: {', '.join(sorted(gone))} refused)" if moved else ""
            return Check("routes", route, PASS, f"answers through {_who(answer)}{after}")
        if all(ref.provider in gone for ref in models):
            why = (
                f"every model of route {route} is on {', '.join(sorted(gone))} — add a second "
                f"provider (freehold providers add NAME --kind …) and one of its models to "
                f"[routes.{route}] models"
            )
            return Check("routes", route, FAIL, why)
        return Check("routes", route, FAIL, f"no model of route {route} answered: {_why(answer)}")

    def _wear(self, name: str, gone: frozenset[str]) -> Check:
        route = self._profile_route()
        assert route is not None
        system = next(p.system for p in self.profiles if p.name == name)
        try:
            answer = self._ask(self.config.route(route).models, gone, system)
        except FreeholdError as error:
            return Check("profiles", name, FAIL, str(error))
        if answer.status in ("complete", "incomplete"):
            return Check("profiles", name, PASS, f"worn on route {route} by {_who(answer)}")
        return Check("profiles", name, FAIL, f"route {route} cannot wear it: {_why(answer)}")

    def _ask(self, models: Sequence[ModelRef], gone: frozenset[str], system: str | None) -> Answer:
        names = dict.fromkeys(ref.provider for ref in models)
        given = {n: self._provider(n, lost=n in gone) for n in names}
        turns = (Turn("user", (PROMPT,)),)

        def build(provider: Provider, ref: ModelRef) -> tuple[ChatRequest, list[str]]:
            return ChatRequest(ref.model, turns, system, _MAX_TOKENS, stream=False), []

        run = Router(given, self.config.router).run(models, build)
        for _ in run:
            pass  # the whole (tiny) answer is wanted; the run keeps it
        return run.answer

    def _provider(self, name: str, *, lost: bool) -> Provider:
        if lost:
            return _Lost(self.config.providers[name])
        if name not in self._live:
            self._live[name] = connect(self.config.providers[name])
        return self._live[name]

    def _alias_notes(self, loss: Loss) -> list[str]:
        if loss.kind != "provider":
            return []
        return [
            f"alias {alias} → {ref} is on {loss.name} only: `-m {alias}` has no fallback — "
            "name a route instead"
            for alias, ref in self.config.aliases.items()
            if ref.partition(":")[0] == loss.name
        ]

    # -- backups: a real drill from each remaining destination

    def _drill(self, config: DestinationConfig) -> Check:
        identity = self._unlock()
        if isinstance(identity, Check):
            return Check("backups", config.name, identity.status, identity.reason)
        if self._state is None:
            self._state = open_state(self.home)
        try:
            report = restoring.drill(self.home, open_destination(config), identity, self._state)
        except (FreeholdError, OSError) as error:
            return Check("backups", config.name, FAIL, f"the drill failed: {error}")
        if report.error or not report.ok:
            why = (report.error or _gone_since(report)).removeprefix(f"{config.name}: ")
            return Check("backups", config.name, FAIL, why)
        why = (
            f"restores (snapshot {report.snapshot}: {report.same:,} conversations as live, "
            f"{report.changed:,} changed since, {report.newer:,} newer in the archive)"
        )
        return Check("backups", config.name, PASS, why)

    def _unlock(self) -> Any:
        """The identity, opened once; a ``Check`` (status and reason) when it cannot be."""
        if self._identity is None:
            self._identity = _open_identity(self.home, self.passphrase)
        return self._identity


Step = tuple[Any, ...]  # ("route", name, gone) ("profile", name, gone) ("drill", name) …
_NO_ROUTE = (
    "no route in config.toml: nothing fails over to another provider — add [routes.default] "
    "with models on two providers"
)
_NOTHING = (
    "nothing to lose: no provider (freehold providers add) and no backup destination "
    "(freehold backup add NAME URL) — the archive has one copy"
)


def _known(names: Sequence[str], known: dict[str, Any], what: str, listing: str) -> None:
    for name in names:
        if name not in known:
            raise ConfigError(
                f"{what} {name!r} (there are: {', '.join(known) or 'none'}) — "
                f"freehold {listing} names them"
            )


def _nowhere(any_destination: bool) -> Check:
    what = "no other backup destination" if any_destination else "no backup destination"
    why = f"{what}: nothing to restore from — add one (freehold backup add NAME URL)"
    return Check("backups", "", FAIL, why)


def _who(answer: Answer) -> str:
    return f"{answer.provider}:{answer.requested_model}"


def _why(answer: Answer) -> str:
    """Each different error of the run's attempts, in order (one per provider, mostly)."""
    errors = dict.fromkeys(a.error for a in answer.attempts if a.error)
    return "; ".join(errors) or str(answer.error)


def _gone_since(report: restoring.Drill) -> str:
    changed = f", {len(report.files_changed)} changed on disk since" if report.files_changed else ""
    return (
        f"snapshot {report.snapshot}: {len(report.gone)} conversations and "
        f"{len(report.files_gone)} attachments of it are gone from the archive{changed}"
    )


def _open_identity(home: Path, passphrase: str | None) -> Any:
    if passphrase is None:
        why = (
            "skipped, not proven: a drill decrypts and no passphrase was given "
            f"(--passphrase-file or ${crypto.PASSPHRASE_VARIABLE})"
        )
        return Check("backups", "", SKIPPED, why)
    try:
        return crypto.unlock(home, passphrase)
    except FreeholdError as error:
        return Check("backups", "", FAIL, str(error))


# -- the last result --------------------------------------------------------------------------


def last_path(home: Path) -> Path:
    return home / "break-test" / "last.json"


def save(home: Path, result: Result) -> Path:
    """Keep ``result`` as the last break test (written whole, then renamed; private)."""
    path = last_path(home)
    _private.replace(path, orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    return path


def last(home: Path) -> Result | None:
    """The last break test kept in ``home``; None when there is none yet."""
    path = last_path(home)
    try:
        return Result.from_json(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise FreeholdError(
            f"{path}: cannot be read ({error}) — run freehold break-test again to replace it"
        ) from error
