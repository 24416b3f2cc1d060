"""Carrying a conversation on from the web app: "Continue from here", Regenerate and Stop.

A turn is what ``freehold chat --continue CONVERSATION --at MESSAGE`` does, through the same
``freehold.chat.Session``: the prompt is stored as a new branch under the message, the path up
to it goes to the chosen model or route through the router, and the answer is stored with its
story (both models, every attempt, the warnings). Regenerate is ``Session.again()``: a new
answer under the same prompt, a sibling of the answer it was asked on.

``Turns.start`` checks everything a request names (the model or route, the message, the
prompt) before anything is stored or sent, so a bad request is a 400 that changed nothing.
The answer is then got on a thread of its own (``Turn``): the provider SDKs are synchronous,
and a slow model must hold neither the event loop nor a worker of the thread pool. The thread
hands each event to the request's event loop (``call_soon_threadsafe``), which streams them to
the page as NDJSON lines (docs/decisions.md): ``start`` (the turn's id, for Stop, and the pin
warnings), ``text`` and ``notice`` as they come, then ``done`` with the stored answer (what
``chat --json`` prints) or ``error``.

Stop (``Turns.stop``, or the page going away mid-answer) sets the turn's flag; the thread sees
it after the next event of the answer and stops the run as Ctrl-C does in the terminal
(``Run.stop``): what arrived is kept as ``interrupted``. A provider that sends nothing holds
the stop until its next byte or its read timeout: a blocking read inside an SDK cannot be cut
from another thread.

The router's circuits last as long as the app, one set per router policy, so a provider that
keeps failing is skipped from one turn to the next, as in an interactive ``freehold chat``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from freehold.archive import Archive, open_archive
from freehold.chat import Pending, Session
from freehold.config import Config, Policy, Target, load_config
from freehold.errors import ConfigError, FreeholdError, NotFoundError
from freehold.models import Message
from freehold.providers.base import Text, redact
from freehold.router import Circuits, Notice
from freehold.web.thread import answers_prompt

__all__ = ["NDJSON", "Ask", "Choice", "Picker", "Turn", "Turns", "picker"]

NDJSON = "application/x-ndjson"
_NUMBER = re.compile(r"[0-9]{1,18}")
_LAST = ("done", "error")
_log = logging.getLogger(__name__)

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ask:
    """What a Continue or Regenerate request names, checked for form (not yet for meaning)."""

    conversation: str
    at: int
    model: str
    prompt: str | None  # None: Regenerate (a new answer to the prompt above ``at``)

    @classmethod
    def read(cls, conversation: str, form: Mapping[str, Any], *, again: bool) -> Ask:
        at = _field(form, "at").strip()
        if not _NUMBER.fullmatch(at):
            raise FreeholdError("at must be a message number: the message to continue from")
        model = _field(form, "model").strip()
        if not model or len(model) > 500:
            raise FreeholdError("no model chosen: pick a model or a route")
        prompt = None if again else _field(form, "prompt")
        if prompt is not None and not prompt.strip():
            raise FreeholdError("the prompt is empty: write what to ask")
        return cls(conversation, int(at), model, prompt)


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""  # a file where text belongs: as missing


# -- the model/route picker -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    value: str  # what the form sends: a route, an alias or provider:model
    label: str


@dataclass(slots=True)
class Picker:
    """What config.toml offers: routes (``default`` first), aliases, then every model reference
    they name. ``selected``: the route named default, else the first choice."""

    path: Path
    routes: list[Choice] = field(default_factory=list)
    aliases: list[Choice] = field(default_factory=list)
    models: list[Choice] = field(default_factory=list)
    selected: str | None = None
    error: str | None = None  # config.toml could not be read: what is wrong with it

    @property
    def empty(self) -> bool:
        return not (self.routes or self.aliases or self.models)


def picker(home: Path) -> Picker:
    try:
        config = load_config(home)
    except ConfigError as error:
        return Picker(home / "config.toml", error=str(error))
    found = Picker(config.path)
    refs: dict[str, None] = {}
    for name in sorted(config.routes, key=lambda n: (n != "default", n)):
        models = [str(ref) for ref in config.route(name).models]
        refs.update(dict.fromkeys(models))
        found.routes.append(Choice(name, f"{name}: {' → '.join(models)}"))
    for name, ref in sorted(config.aliases.items()):
        refs[ref] = None
        found.aliases.append(Choice(name, f"{name} ({ref})"))
    found.models = [Choice(ref, ref) for ref in sorted(refs)]
    first = next(iter(found.routes + found.aliases + found.models), None)
    found.selected = "default" if "default" in config.routes else first.value if first else None
    return found


# -- turns ----------------------------------------------------------------------------------


class Turn:
    """One answer on its way, on its own thread; its events wait in ``queue`` for the page."""

    def __init__(
        self, turns: Turns, session: Session, pending: Pending, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.id = secrets.token_urlsafe(16)
        self.turns = turns
        self.session = session
        self.pending = pending
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"turn-{self.id}", daemon=True)

    def _run(self) -> None:
        try:
            self._emit(self._start_event())
            if not self.stopped.is_set():
                self._relay()
            reply = self.pending.finish()
            url = f"/conversations/{reply.conversation_id}?at={reply.message_id}"
            self._emit({"event": "done", "url": url, "reply": reply.to_json()})
        except Exception as error:  # the page must hear that it ended, whatever ended it
            _log.exception("turn %s failed", self.id)
            said = str(error) if isinstance(error, FreeholdError) else "the answer failed"
            self._emit({"event": "error", "message": redact(said) + " (see the server's log)"})
        finally:
            self.session.close()
            self.session.archive.close()
            self.turns.forget(self)

    def _start_event(self) -> Event:
        return {
            "event": "start",
            "turn": self.id,
            "conversation": self.session.conversation_id,
            "prompt": self.pending.prompt.id,
            "target": self.session.target.name,
            "models": [str(ref) for ref in self.session.target.models],
            "warnings": self.pending.warnings,
        }

    def _relay(self) -> None:
        """Pass the answer's pieces and notices on until it ends or Stop is asked for; then
        stop it as Ctrl-C does (what came is kept, ``interrupted``)."""
        run = self.pending.run
        for event in run:
            if isinstance(event, Text):
                self._emit({"event": "text", "text": event.text})
            elif isinstance(event, Notice):
                self._emit({"event": "notice", "text": event.text})
            if self.stopped.is_set():
                run.stop()
                return

    def _emit(self, event: Event) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is reading
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    async def lines(self) -> AsyncIterator[bytes]:
        """The events as NDJSON, until the last. A page that goes away stops the answer."""
        try:
            while True:
                event = await self.queue.get()
                yield orjson.dumps(event) + b"\n"
                if event["event"] in _LAST:
                    return
        finally:
            self.stopped.set()

    async def outcome(self) -> Event:
        """The last event (``done`` or ``error``), for a page without JavaScript."""
        while (event := await self.queue.get())["event"] not in _LAST:
            pass
        return event


class Turns:
    """The turns running now (by id, for Stop) and the circuits every turn shares."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.running: dict[str, Turn] = {}
        self.circuits: dict[Policy, Circuits] = {}
        self.lock = threading.Lock()

    def start(self, ask: Ask, loop: asyncio.AbstractEventLoop) -> Turn:
        """Check ``ask``, store its prompt (Continue), and start the answer on its thread."""
        config = load_config(self.home)
        target = config.resolve(ask.model)  # an unknown model or route: ConfigError, 400
        archive = open_archive(self.home)
        try:
            session = self._session(archive, config, target, ask)
        except BaseException:
            archive.close()
            raise
        try:
            pending = session.ask(ask.prompt) if ask.prompt is not None else session.again()
        except BaseException:
            session.close()
            archive.close()
            raise
        turn = Turn(self, session, pending, loop)
        with self.lock:
            self.running[turn.id] = turn
        turn.thread.start()
        return turn

    def _session(self, archive: Archive, config: Config, target: Target, ask: Ask) -> Session:
        cid = archive.resolve(ask.conversation)  # unknown: NotFoundError, 404
        conversation = archive.get_conversation(cid)
        by_id = {m.id: m for m in conversation.messages}
        message = by_id.get(ask.at)
        if message is None:
            raise FreeholdError(
                f"no message {ask.at} in conversation {cid} — reload the page and choose "
                "a message shown there"
            )
        if message.revision_of is not None:
            raise FreeholdError(
                f"message {ask.at} is an earlier version of a message (changed upstream, kept "
                "on import) — continue from the message itself"
            )
        if ask.prompt is None:
            message = _prompt_of(message, by_id)
        session = Session(archive, config, target, conversation=cid)
        # The message by its number in the archive, exactly: ``--at`` also takes source ids,
        # and a source id made of digits could name another message.
        session.parent = message.id
        with self.lock:
            session.router.circuits = self.circuits.setdefault(
                config.router, Circuits(config.router)
            )
        return session

    def stop(self, turn_id: str) -> None:
        with self.lock:
            turn = self.running.get(turn_id)
        if turn is None:
            raise NotFoundError("no answer of that id is on its way (it may have ended)")
        turn.stopped.set()

    def forget(self, turn: Turn) -> None:
        with self.lock:
            self.running.pop(turn.id, None)

    def close(self, timeout: float = 10.0) -> None:
        """At shutdown: stop every answer on its way and wait a little for them to be kept."""
        with self.lock:
            turns = list(self.running.values())
        for turn in turns:
            turn.stopped.set()
        for turn in turns:
            turn.thread.join(timeout / max(1, len(turns)))


def _prompt_of(answer: Message, by_id: dict[int | None, Message]) -> Message:
    """The prompt Regenerate answers again: the user message ``answer`` answered."""
    prompt = by_id.get(answer.parent_id)
    if prompt is None or not answers_prompt(answer, prompt):
        raise FreeholdError(
            f"message {answer.id} is not an answer to a prompt: Regenerate works on an "
            "assistant's message under a user's; use Continue from here instead"
        )
    return prompt
