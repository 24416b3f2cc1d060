"""The router: the only retry layer between freehold and its providers.

``Router.run(models, build)`` tries the route's models in order and streams one answer:

- A fault before the first piece of text is retried on the same model while it is
  retryable (``providers.base``: rate limit, overloaded, 5xx, timeout, connection, a stream
  cut before any text), at most ``Policy.attempts_per_model`` tries, after a wait: what
  Retry-After asked, else a random time up to ``backoff_base`` × 2^(try-1) capped at
  ``backoff_max`` (full jitter: clients that failed together do not retry together). A wait
  longer than ``max_retry_after``, a fault that is not retryable (a bad key, an unknown model,
  a prompt too long), or the last try: the next model of the route is tried at once.
- After the first piece of text nothing is retried and nothing fails over: a second answer
  would repeat what the person already read. A fault then, or a stream that ends without
  its finish marker, keeps the text that came as an ``incomplete`` answer.
- A provider whose retryable faults come ``circuit_failures`` times in a row has its circuit
  opened: its models are skipped (attempt ``skipped``) for ``circuit_cooldown`` seconds, then
  tried once again (half-open): a success closes it, a fault opens it again. ``Circuits``
  live as long as the router (an interactive session, the web app); a one-shot ``chat``
  starts closed.
- Ctrl-C (``KeyboardInterrupt``), any other stop that is not an error (SIGTERM or SIGHUP in
  ``freehold chat``) or ``Run.stop()`` keeps what arrived as ``interrupted``, whether text
  came or not (a stop during a back-off is the person's choice, not a fault).
- Any exception while a reply is read is a fault of that attempt (``Provider.guarded``):
  retried or failed over before the first piece of text, ``incomplete`` after it.

Every try is an ``Attempt`` (``models.py``): provider, model, outcome, fault and error,
milliseconds, tokens in and out, the model that answered. Time, sleep and chance are
injected (``clock``, ``sleep``, ``chance``), so tests run the policy without waiting.
``build(provider, ref)`` makes each provider's request (``carry.py`` converts an archived
path for that provider's limits) and may return notices for the person; the router passes
them on as ``Notice`` events, with a notice for each failover.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from freehold.config import ModelRef, Policy
from freehold.errors import ProviderError
from freehold.models import Attempt
from freehold.providers.base import ChatRequest, Event, Finish, Meta, Provider, Text

__all__ = ["Answer", "Build", "Circuits", "Notice", "Router", "Run"]

Build = Callable[[Provider, ModelRef], tuple[ChatRequest, list[str]]]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the person should see while the answer comes (a failover, a wait)."""

    text: str


@dataclass(slots=True)
class Answer:
    """The outcome of one run. ``status``: complete, incomplete, interrupted or failed."""

    text: str = ""
    status: str = "failed"
    provider: str | None = None
    requested_model: str | None = None
    served_model: str | None = None
    finish_reason: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    attempts: list[Attempt] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str | None = None


class Circuits:
    """Per-provider circuit breakers: closed, open until a time, or half-open (one trial)."""

    def __init__(self, policy: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._faults: dict[str, int] = {}
        self._open_until: dict[str, float] = {}

    def allows(self, provider: str) -> bool:
        """Closed, or open long enough to be tried again."""
        until = self._open_until.get(provider)
        return until is None or self.clock() >= until

    def reopens_in(self, provider: str) -> float:
        return max(0.0, self._open_until.get(provider, 0.0) - self.clock())

    def failed(self, provider: str) -> bool:
        """Count a retryable fault; True when this one opened the circuit."""
        half_open = provider in self._open_until
        self._faults[provider] = self._faults.get(provider, 0) + 1
        if half_open or self._faults[provider] >= self.policy.circuit_failures:
            self._open_until[provider] = self.clock() + self.policy.circuit_cooldown
            return True
        return False

    def succeeded(self, provider: str) -> None:
        self._faults.pop(provider, None)
        self._open_until.pop(provider, None)


class Router:
    """Runs requests over routes. Keep one for a session so its circuits carry over."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        policy: Policy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        chance: Callable[[], float] = random.random,
    ) -> None:
        self.providers = providers
        self.policy = policy or Policy()
        self.clock = clock
        self.sleep = sleep
        self.chance = chance
        self.circuits = Circuits(self.policy, clock)

    def run(self, models: Sequence[ModelRef], build: Build) -> Run:
        return Run(self, list(models), build)

    def backoff(self, fault: ProviderError, tries: int) -> float | None:
        """Seconds to wait before trying the same model again; None: do not, fail over."""
        if fault.retry_after is not None:
            wait = float(fault.retry_after)
            return wait if wait <= self.policy.max_retry_after else None
        cap = min(self.policy.backoff_max, self.policy.backoff_base * 2.0 ** (tries - 1))
        return self.chance() * cap


class Run:
    """One answer in the making: iterate it for ``Text`` and ``Notice`` events; ``answer``
    holds the outcome once iteration ends (or after ``stop``)."""

    def __init__(self, router: Router, models: list[ModelRef], build: Build) -> None:
        self.router = router
        self.models = models
        self.build = build
        self.answer = Answer()
        self._pieces: list[str] = []
        self._told: set[str] = set()  # a conversion notice is told once per run
        self._events = self._run()

    def __iter__(self) -> Iterator[Text | Notice]:
        return self._events

    def stop(self) -> Answer:
        """Stop now (Ctrl-C): whatever arrived is kept as ``interrupted`` — nothing at all
        too (a stop during a back-off or before the first piece of text): the person
        stopped it, no fault failed it."""
        self._events.close()
        if self.answer.status == "failed":
            self._settle("interrupted")
            self.answer.error = None
        return self.answer

    def _run(self) -> Generator[Text | Notice, None, None]:
        for position, ref in enumerate(self.models):
            done = yield from self._model(ref, last=position == len(self.models) - 1)
            if done:
                return
        self.answer.status = "failed"
        errors = [a for a in self.answer.attempts if a.error]
        self.answer.error = errors[-1].error if errors else "no model to try"

    def _model(self, ref: ModelRef, *, last: bool) -> Generator[Text | Notice, None, bool]:
        """Try one model; True when the run is over (an answer, whole or partial)."""
        router = self.router
        provider = router.providers.get(ref.provider)
        if provider is None:
            self._attempt(ref, "error", fault="error", error=f"no provider {ref.provider!r}")
            return False
        if not router.circuits.allows(ref.provider):
            seconds = router.circuits.reopens_in(ref.provider)
            text = f"{ref.provider}: circuit open after repeated faults (for {seconds:.0f} s)"
            self._attempt(ref, "skipped", fault="circuit_open", error=text)
            yield Notice(f"skipping {ref}: {text}")
            return False
        tries = 0
        waited = 0.0
        while True:
            tries += 1
            fault = yield from self._try(provider, ref, waited)
            if fault is None or self._pieces:  # text came: keep it, never retry or fail over
                return True
            wait = router.backoff(fault, tries) if fault.retryable else None
            opened = not router.circuits.allows(ref.provider)
            if wait is None or opened or tries >= router.policy.attempts_per_model:
                if not last:
                    why = fault.kind.replace("_", " ") + (", circuit opened" if opened else "")
                    yield Notice(f"{ref} failed ({why}): trying the next model")
                return False
            yield Notice(f"{ref}: {fault.kind.replace('_', ' ')}; trying again in {wait:.1f} s")
            router.sleep(wait)
            waited = wait

    def _try(
        self, provider: Provider, ref: ModelRef, waited: float
    ) -> Generator[Text | Notice, None, ProviderError | None]:
        """One attempt; returns None when it answered (whole or partial), else the fault.
        Any exception while the provider reads the answer is a fault of the attempt
        (``guarded``'s rule, ``Provider.malformed``, for a provider that does not read through
        it: ``_next``); one in freehold's own handling is a traceback; a stop that is
        not an error (Ctrl-C, a signal, ``close``) at any point keeps the attempt as
        ``interrupted``."""
        started = self.router.clock()
        record = Attempt(ref.provider, ref.model, "error", started_at=time.time())
        record.waited_ms = round(waited * 1000)
        self.answer.attempts.append(record)
        notices: list[str] = []
        finish: str | None = None
        events: Iterator[Event] | None = None
        try:
            try:  # the request may not fit this model at all: a fault of this attempt
                request, notices = self.build(provider, ref)
            except ProviderError as fault:
                return self._fault(record, fault, [])
            for notice in notices:
                if notice not in self._told:
                    self._told.add(notice)
                    yield Notice(notice)
            events = iter(provider.stream(replace(request, model=ref.model)))
            while (event := _next(events, provider)) is not None:
                if isinstance(event, Text) and event.text:
                    self._pieces.append(event.text)
                    yield event
                elif isinstance(event, Meta):
                    _merge(record, event)
                elif isinstance(event, Finish):
                    finish = event.reason
        except ProviderError as fault:
            record.ms = self._ms(started)
            return self._fault(record, fault, notices)
        except BaseException:  # Ctrl-C, close(), a signal's stop (cli/_base.py): keep what came
            record.ms = self._ms(started)
            record.outcome = "interrupted"
            self._answered(record, provider, notices, None, "interrupted")
            raise
        finally:
            close = getattr(events, "close", None)
            if close is not None:  # a generator: its HTTP response is closed with it
                close()
        record.ms = self._ms(started)
        record.outcome = "ok" if finish is not None else "incomplete"
        self.router.circuits.succeeded(ref.provider)
        self._answered(record, provider, notices, finish, "complete" if finish else "incomplete")
        return None

    def _fault(
        self, record: Attempt, fault: ProviderError, notices: list[str]
    ) -> ProviderError | None:
        record.fault = fault.kind
        record.error = fault.message
        if fault.retryable and self.router.circuits.failed(record.provider):
            record.error += " (circuit opened)"
        if not self._pieces:
            return fault
        record.outcome = "incomplete"
        provider = self.router.providers[record.provider]
        self._answered(record, provider, notices, None, "incomplete")
        self.answer.error = fault.message
        return None

    def _answered(
        self,
        record: Attempt,
        provider: Provider,
        notices: list[str],
        finish: str | None,
        status: str,
    ) -> None:
        answer = self.answer
        answer.provider = provider.name
        answer.requested_model = record.model
        answer.served_model = record.served_model
        answer.finish_reason = finish
        answer.tokens_in = record.tokens_in
        answer.tokens_out = record.tokens_out
        answer.notices = list(notices)
        self._settle(status)

    def _settle(self, status: str) -> None:
        self.answer.text = "".join(self._pieces)
        self.answer.status = status

    def _attempt(self, ref: ModelRef, outcome: str, *, fault: str, error: str) -> None:
        self.answer.attempts.append(
            Attempt(
                ref.provider, ref.model, outcome, error=error, fault=fault, started_at=time.time()
            )
        )

    def _ms(self, started: float) -> int:
        return max(0, round((self.router.clock() - started) * 1000))


def _next(events: Iterator[Event], provider: Provider) -> Event | None:
    """The reply's next event, None at its end. Any exception while the provider reads it is
    the reply's fault (``malformed``); what is done with the event after is freehold's own
    code, whose bug stays a traceback (as does one in ``build``, i.e. ``carry.py``)."""
    try:
        return next(events)
    except StopIteration:
        return None
    except ProviderError:
        raise
    except Exception as error:
        raise provider.malformed(error) from None


def _merge(record: Attempt, meta: Meta) -> None:
    if meta.served_model:
        record.served_model = meta.served_model
    if meta.tokens_in is not None:
        record.tokens_in = meta.tokens_in
    if meta.tokens_out is not None:
        record.tokens_out = meta.tokens_out
