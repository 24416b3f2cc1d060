"""A conversation carried on: prompts stored, answers got through the router, both kept.

``Session`` holds what stays between turns of one ``freehold chat`` (or one web page later):
the archive, the configured providers the target needs, one ``Router`` (so its circuits carry
over from turn to turn), the conversation and the message the next turn continues from.
``Session.ask(prompt)`` stores the prompt first (a crash mid-answer never loses it) as a new
branch under that message, converts the path for each provider the router tries
(``carry.py``) and returns a ``Pending``: iterate ``pending.run`` for the answer's text and
notices as they come, then ``pending.finish()`` stores the answer — complete, incomplete,
interrupted or failed, with its ``Generation`` (both models, every attempt) — and returns a
``Reply`` whose ``to_json`` is what ``chat --json`` prints.

Warnings come from the lifecycle module (``freehold.lifecycle``): each pin of the target is
checked before the call; after it, a different model served than the one asked for
(beyond its dated form), a failover, an answer cut at its length limit, and what the
conversion left out. The cost is
estimated where the lifecycle data knows the model's price.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from types import ModuleType
from typing import Any

from freehold import carry
from freehold import lifecycle as _lifecycle
from freehold.archive import Archive
from freehold.config import Config, ModelRef, Target
from freehold.models import Attempt, Generation, Message
from freehold.providers.base import ChatRequest, Provider, connect
from freehold.router import Answer, Router, Run

__all__ = ["Pending", "Reply", "Session", "cost", "lifecycle"]

_LENGTH = {"length", "max_tokens", "MAX_TOKENS"}


def lifecycle() -> ModuleType:
    """The lifecycle module (pins, served models, prices); one place to change it in tests."""
    return _lifecycle


@dataclass(slots=True)
class Reply:
    """One answer as stored: what ``chat --json`` prints."""

    conversation_id: str
    message_id: int
    text: str
    status: str
    provider: str | None
    requested_model: str | None
    served_model: str | None
    attempts: list[Attempt]
    warnings: list[str]
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["attempts"] = [asdict(a) for a in self.attempts]
        return found


@dataclass(slots=True)
class Pending:
    """An answer on its way: iterate ``run``, then ``finish``."""

    session: Session
    prompt: Message
    run: Run
    warnings: list[str] = field(default_factory=list)

    def finish(self) -> Reply:
        return self.session.finish(self)


class Session:
    """One conversation, carried on turn after turn (see the module docstring)."""

    def __init__(
        self,
        archive: Archive,
        config: Config,
        target: Target,
        *,
        conversation: str | None = None,
        at: str | None = None,
        system: str | None = None,
        stream: bool = True,
        router: Router | None = None,
    ) -> None:
        self.archive = archive
        self.target = target
        self.system = system
        self.stream = stream
        names = dict.fromkeys(ref.provider for ref in target.models)
        self.providers: dict[str, Provider] = {n: connect(config.providers[n]) for n in names}
        self.router = router or Router(self.providers, config.router)
        self.conversation_id: str | None = None
        self.parent: int | None = None
        if conversation is not None:
            self._continue(conversation, at)

    def _continue(self, ref: str, at: str | None) -> None:
        cid = self.archive.resolve(ref)
        conv = self.archive.get_conversation(cid)
        node = self.archive.find_message(cid, at) if at else None
        chain = carry.path(conv, node)
        self.conversation_id = cid
        self.parent = chain[-1].id if chain else None

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()

    def pin_warnings(self) -> list[str]:
        """What the lifecycle data says about each model of the target (deprecated,
        retiring, not pinned), before anything is sent."""
        check = lifecycle().check
        return [str(w.message) for ref in self.target.models for w in check(str(ref))]

    def ask(self, prompt: str) -> Pending:
        """Store ``prompt`` (and the session's system text, once) and start the answer."""
        if self.conversation_id is None:
            self.conversation_id = self.archive.new_conversation(_title(prompt))
        turn = [_message("user", prompt)]
        if self.system:
            turn.insert(0, _message("system", self.system))
            self.system = None
        stored = self.archive.add_turn(self.conversation_id, self.parent, turn)
        self.parent = stored[-1].id
        conv = self.archive.get_conversation(self.conversation_id)
        messages = carry.path(conv, next(m for m in conv.messages if m.id == self.parent))

        def build(provider: Provider, ref: ModelRef) -> tuple[ChatRequest, list[str]]:
            request, notices = carry.carry(messages, conv, provider, ref, self._blob)
            return replace(request, stream=self.stream), notices

        run = self.router.run(self.target.models, build)
        return Pending(self, stored[-1], run, warnings=self.pin_warnings())

    def finish(self, pending: Pending) -> Reply:
        """Store the answer the run got (whatever its status) under the prompt."""
        answer = pending.run.answer
        warnings = [*pending.warnings, *self._warnings(answer)]
        generation = Generation(
            provider=answer.provider,
            requested_model=answer.requested_model,
            served_model=answer.served_model,
            target=self.target.name,
            finish_reason=answer.finish_reason,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
            attempts=answer.attempts,
            warnings=warnings,
        )
        message = _answer_message(answer, generation)
        assert self.conversation_id is not None
        self.archive.add_turn(self.conversation_id, pending.prompt.id, [message])
        self.parent = message.id
        return Reply(
            conversation_id=self.conversation_id,
            message_id=message.id or 0,
            text=answer.text,
            status=answer.status,
            provider=answer.provider,
            requested_model=answer.requested_model,
            served_model=answer.served_model,
            attempts=answer.attempts,
            warnings=warnings,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
            cost_usd=self._cost(answer),
            error=answer.error,
        )

    def _warnings(self, answer: Answer) -> list[str]:
        found = list(answer.notices)
        answered = answer.attempts[-1] if answer.provider else None
        primary = self.target.models[0]
        if answered is not None and (answered.provider, answered.model) != (
            primary.provider,
            primary.model,
        ):
            why = next((a.fault for a in answer.attempts if a.fault), "failed")
            found.append(
                f"answered by {answered.provider}:{answered.model}: the first choice "
                f"{primary} failed ({str(why).replace('_', ' ')})"
            )
        requested, served = answer.requested_model, answer.served_model
        if requested and served:
            other = lifecycle().check_served(f"{answer.provider}:{requested}", served)
            if other is not None:
                found.append(other.message)
        if answer.finish_reason in _LENGTH:
            found.append("the answer stopped at its length limit (max_tokens in config.toml)")
        return found

    def _cost(self, answer: Answer) -> float | None:
        if answer.provider is None or answer.requested_model is None:
            return None
        price = lifecycle().price(f"{answer.provider}:{answer.requested_model}")
        return cost(price, answer.tokens_in, answer.tokens_out)

    def _blob(self, sha: str) -> bytes | None:
        path = self.archive.blob_path(sha)
        try:
            return path.read_bytes()
        except OSError:
            return None


def cost(
    price: _lifecycle.Price | None, tokens_in: int | None, tokens_out: int | None
) -> float | None:
    """USD for the tokens at ``price`` (``lifecycle.price``); None when either is unknown."""
    if price is None or tokens_in is None or tokens_out is None:
        return None
    return price.cost(tokens_in, tokens_out)


def _title(prompt: str) -> str:
    line = " ".join(prompt.split())
    return line if len(line) <= 60 else line[:59].rstrip() + "…"


def _message(role: str, text: str) -> Message:
    return Message("", None, role, "text", [{"type": "text", "text": text}], text)


def _answer_message(answer: Answer, generation: Generation) -> Message:
    if answer.status == "failed":
        parts = [{"type": "error", "name": "failed", "text": answer.error or "no answer"}]
    else:
        parts = [{"type": "text", "text": answer.text}]
    message = Message("", None, "assistant", "text", parts, answer.text, generation=generation)
    message.model = answer.served_model or answer.requested_model
    message.status = answer.status
    return message
