"""The rehearsal: plan, estimate, ask (bounded, cached, resumable), judge, score.

``plan`` picks the cases (``cases.pick``) and makes every request before anything is sent:
each case's path converted for each candidate's provider (``carry.carry``, the same
conversion ``freehold chat --continue`` uses), with the profile's text before the system
prompt when one is worn, asked ``repeats`` times. Each request's key is a digest of what
would be sent; an answer already stored under it is reused (``RunStore.cached``), so only
the missing ones are estimated and asked. The estimate counts tokens the way ``carry`` does
(an over-estimate), the answer as long as the original one, and prices them with the
lifecycle table (``lifecycle.price``); a model the table does not price is counted apart.

``ask`` sends the missing requests through the router, one ``Router`` per candidate (and one
for the judge): a candidate is one model, with no failover, so a fault is that model's fault,
recorded — and the router's circuits, which count faults per provider (for a route, a provider
that fails is skipped for its next model), would let one failing model stop a healthy one on
the same provider. Each candidate's own router still retries and opens a circuit on its own
faults, so a dead model is not asked again and again. ``concurrency`` at a time in threads;
each answer is stored as it comes, so a run cut short (Ctrl-C, a crash) loses only the
answers in flight, and the same command again goes on (``RunStore.start`` reopens an
unfinished run of the same plan).

With a judge, ``judge`` asks it about each (case, candidate): the original answer and the
candidate's first answer, twice, positions swapped. The same verdict both ways counts
(``better``, ``worse``, ``same``); a verdict that follows the position is ``split``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from freehold import carry, lifecycle
from freehold.archive import Archive
from freehold.config import Config, ModelRef
from freehold.embeddings import Embedder
from freehold.errors import ConfigError, FreeholdError
from freehold.models import Message
from freehold.providers.base import ChatRequest, Image, Provider, Turn, connect
from freehold.rehearse import cases as _cases
from freehold.rehearse.cases import Case
from freehold.rehearse.score import Scored, Verdicts, score
from freehold.rehearse.store import Reply, RunStore
from freehold.router import Router

__all__ = [
    "Estimate",
    "Options",
    "Plan",
    "Task",
    "answers_by_case",
    "ask",
    "judge",
    "judge_estimate",
    "judge_tasks",
    "plan",
    "scored",
    "verdict_word",
]

_JUDGE_SYSTEM = (
    "You compare two answers to the same request. Judge which answer serves the request "
    "better: correct, complete, clear, in the form asked for. Length alone is no merit. "
    "Reply with exactly one line and nothing else: VERDICT: A, VERDICT: B, or VERDICT: TIE."
)
_JUDGE_TOKENS = 16
# How judges say it when they do not keep to the format: "Answer B", "Assistant B is better",
# "Response A is worse than response B", "Both are equally good".
_LABEL = r"(?:VERDICT|ANSWER|ASSISTANT|RESPONSE|OPTION|OUTPUT|CANDIDATE|CHOICE)"
_STRICT = re.compile(r"\bVERDICT\s*[:=-]?\s*(A|B|TIE)\b")
_BARE = re.compile(r"\(?(A|B|TIE)\)?[.!]?")
_COMPARED = re.compile(
    rf"(?:{_LABEL}\s*)?\b(A|B)\s+(?:IS|WAS|SEEMS)\s+(?:SLIGHTLY\s+|MUCH\s+|CLEARLY\s+)?(?:(BETTER|STRONGER|PREFERRED|SUPERIOR"
    r")|(WORSE|WEAKER|INFERIOR))\b"
)
# a comparison whose subject follows one of these is not about that answer alone: "Neither A nor
# B is better" says no answer is better, "Not A" negates the name it stands before
_UNSAID = re.compile(r"\b(?:NEITHER|NOR|NOT|OR)\s*$")
_NAMED = re.compile(rf"{_LABEL}\s*[:#-]?\s*\(?(A|B|TIE)\)?[.!]?")
_LEAD = re.compile(r"(B|TIE)\b")
_LEAD_WORDS = 3  # "B wins", "B - more complete"; a longer reply led by B is a sentence about B
_TIE = re.compile(r"\b(?:TIE|TIED|EQUAL|EQUALLY|NEITHER|NO DIFFERENCE|ABOUT THE SAME)\b")
_DEFAULT_OUT = 500  # tokens an answer is estimated at when there is no original to go by


@dataclass(slots=True)
class Options:
    """What the person asked for (``freehold rehearse``'s flags)."""

    candidates: list[str]
    sample: int = 20
    query: str | None = None
    conversations: list[str] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    profile: str | None = None
    judge: str | None = None
    repeats: int = 2
    concurrency: int = 4
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Task:
    """One request to one model: a candidate's answer, or a judge's vote."""

    key: str
    ref: ModelRef
    position: int
    repeat: int
    request: ChatRequest
    tokens_in: int
    tokens_out: int
    cached: Reply | None = None
    swapped: bool = False  # a vote with the candidate's answer as A
    candidate: ModelRef | None = None  # a vote: the candidate it is about


@dataclass(slots=True)
class Estimate:
    """What the missing requests would cost."""

    calls: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    unpriced: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Plan:
    """Everything decided before the first request."""

    options: Options
    refs: list[ModelRef]
    cases: list[Case]
    tasks: list[Task]
    providers: dict[str, Provider]
    routers: dict[str, Router]  # by model reference: each candidate's circuits its own
    embedder: Embedder
    system: str | None = None
    judge_ref: ModelRef | None = None
    notices: list[str] = field(default_factory=list)

    def estimate(self, tasks: Sequence[Task] | None = None) -> Estimate:
        found = Estimate()
        for task in self.tasks if tasks is None else tasks:
            if task.cached is not None:
                found.cached += 1
                continue
            found.calls += 1
            found.tokens_in += task.tokens_in
            found.tokens_out += task.tokens_out
            price = lifecycle.price(str(task.ref))
            if price is None:
                found.unpriced = sorted({*found.unpriced, str(task.ref)})
            else:
                found.cost_usd += price.cost(task.tokens_in, task.tokens_out)
        found.cost_usd = round(found.cost_usd, 6)
        return found

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()

    @property
    def digest(self) -> str:
        """The plan's identity: the same cases, candidates and settings give the same one."""
        body = {
            "keys": [t.key for t in self.tasks],
            "judge": str(self.judge_ref) if self.judge_ref else None,
            "embedder": [self.embedder.name, self.embedder.version],
        }
        return hashlib.sha256(orjson.dumps(body)).hexdigest()[:32]


def plan(
    archive: Archive,
    config: Config,
    options: Options,
    embedder: Embedder,
    store: RunStore,
    *,
    system: str | None = None,
    pins: Sequence[Message] = (),
) -> Plan:
    """Pick the cases and make every request (module docstring); nothing is sent."""
    refs = [_candidate(config, name) for name in options.candidates]
    if len(set(refs)) != len(refs):
        raise FreeholdError("the same model is named twice in --candidates — name each once")
    judge_ref = _candidate(config, options.judge) if options.judge else None
    picked = _cases.pick(
        archive,
        embedder,
        options.sample,
        query=options.query,
        conversations=options.conversations,
        pins=pins,
        seed=options.seed,
    )
    names = {ref.provider for ref in [*refs, *([judge_ref] if judge_ref else [])]}
    providers = {name: connect(config.providers[name]) for name in sorted(names)}
    routers = {
        str(ref): Router(providers, config.router) for ref in [*refs, *filter(None, [judge_ref])]
    }
    found = Plan(options, refs, picked, [], providers, routers, embedder)
    found.system, found.judge_ref = system, judge_ref
    blob = _reader(archive)
    for case in picked:
        for ref in refs:
            request, notices = _request(case, providers[ref.provider], ref, system, blob)
            found.notices += [f"case {case.position + 1}, {ref}: {n}" for n in notices]
            out = min(
                request.max_tokens, max(16, carry.estimate(Turn("assistant", (case.original,))))
            )
            if not case.original.strip():
                out = min(request.max_tokens, _DEFAULT_OUT)
            for repeat in range(options.repeats):
                key = _key(ref, request, repeat)
                found.tasks.append(
                    Task(
                        key,
                        ref,
                        case.position,
                        repeat,
                        request,
                        _size(request),
                        out,
                        store.cached(key),
                    )
                )
    return found


def _candidate(config: Config, name: str) -> ModelRef:
    """A candidate (or the judge) is one model: a reference or an alias, never a route."""
    if ":" not in name and name not in config.aliases and name in config.routes:
        raise ConfigError(
            f"{name!r} is a route — a candidate is one model: give provider:model or an alias"
        )
    return config.model(name).models[0]


def _reader(archive: Archive) -> Callable[[str], bytes | None]:
    def read(sha: str) -> bytes | None:
        try:
            return archive.blob_path(sha).read_bytes()
        except OSError:
            return None

    return read


def _request(
    case: Case,
    provider: Provider,
    ref: ModelRef,
    system: str | None,
    blob: Callable[[str], bytes | None],
) -> tuple[ChatRequest, list[str]]:
    request, notices = carry.carry(case.path, case.conversation, provider, ref, blob)
    if system:
        joined = "\n\n".join(t for t in (system, request.system) if t)
        request = replace(request, system=joined)
    return replace(request, stream=False), notices


def _size(request: ChatRequest) -> int:
    system = carry.estimate(Turn("user", (request.system,))) if request.system else 0
    return system + sum(carry.estimate(turn) for turn in request.turns)


def _key(ref: ModelRef, request: ChatRequest, repeat: int) -> str:
    turns = [
        [turn.role, [p if isinstance(p, str) else _image_digest(p) for p in turn.content]]
        for turn in request.turns
    ]
    body = [str(ref), request.system, turns, request.max_tokens, repeat]
    return hashlib.sha256(orjson.dumps(body)).hexdigest()


def _image_digest(image: Image) -> str:
    return f"image {image.mime} {hashlib.sha256(image.data).hexdigest()}"


# -- asking ------------------------------------------------------------------------------


def ask(
    plan: Plan,
    store: RunStore,
    tasks: Sequence[Task] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Reply]:
    """Every task's reply (cached or asked now), by key; answers are stored as they come."""
    tasks = plan.tasks if tasks is None else tasks
    replies = {t.key: t.cached for t in tasks if t.cached is not None}
    missing = [t for t in tasks if t.cached is None and t.key not in replies]
    done, lock = 0, threading.Lock()
    with ThreadPoolExecutor(max_workers=max(1, plan.options.concurrency)) as pool:
        futures = [pool.submit(_answer, plan, store, task) for task in missing]
        try:
            for future in as_completed(futures):
                reply = future.result()
                with lock:
                    replies[reply.key] = reply
                    done += 1
                if progress is not None:
                    progress(done, len(missing))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return replies


def _answer(plan: Plan, store: RunStore, task: Task) -> Reply:
    run = plan.routers[str(task.ref)].run([task.ref], lambda provider, ref: (task.request, []))
    for _event in run:
        pass
    answer = run.answer
    price = lifecycle.price(str(task.ref)) if answer.provider else None
    cost = None
    if price is not None and answer.tokens_in is not None and answer.tokens_out is not None:
        cost = round(price.cost(answer.tokens_in, answer.tokens_out), 6)
    reply = Reply(
        key=task.key,
        ref=str(task.ref),
        repeat=task.repeat,
        status=answer.status,
        text=answer.text,
        provider=answer.provider,
        served_model=answer.served_model,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        ms=sum(a.ms for a in answer.attempts),
        cost_usd=cost,
        error=answer.error,
    )
    store.keep(reply)
    return reply


def answers_by_case(plan: Plan, replies: dict[str, Reply]) -> dict[tuple[int, str], list[Reply]]:
    found: dict[tuple[int, str], list[Reply]] = {}
    for task in sorted(plan.tasks, key=lambda t: t.repeat):
        if task.key in replies:
            found.setdefault((task.position, str(task.ref)), []).append(replies[task.key])
    return found


# -- judging -----------------------------------------------------------------------------


def judge_tasks(plan: Plan, store: RunStore, replies: dict[str, Reply]) -> list[Task]:
    """Two votes per (case, candidate) with an original and an answer: both orders."""
    if plan.judge_ref is None:
        return []
    found = []
    by_case = answers_by_case(plan, replies)
    for case in plan.cases:
        for ref in plan.refs:
            good = [r for r in by_case.get((case.position, str(ref)), []) if r.text.strip()]
            if not good or not case.original.strip():
                continue
            for swapped in (False, True):
                found.append(_vote(plan, store, case, ref, good[0].text, swapped))
    return found


def judge_estimate(plan: Plan, store: RunStore) -> list[Task]:
    """The judge's tasks as they would be, with the original standing in for the answer."""
    if plan.judge_ref is None:
        return []
    return [
        _vote(plan, store, case, ref, case.original, swapped)
        for case in plan.cases
        if case.original.strip()
        for ref in plan.refs
        for swapped in (False, True)
    ]


def _vote(
    plan: Plan, store: RunStore, case: Case, ref: ModelRef, answer: str, swapped: bool
) -> Task:
    """One vote: the original as A and the answer as B, or (``swapped``) the other way."""
    assert plan.judge_ref is not None
    first, second = (answer, case.original) if swapped else (case.original, answer)
    text = (
        f"Request:\n{case.prompt}\n\n--- Answer A ---\n{first}\n\n--- Answer B ---\n{second}"
        "\n\nWhich answer serves the request better? Reply with one line: VERDICT: A, "
        "VERDICT: B, or VERDICT: TIE."
    )
    request = ChatRequest(
        plan.judge_ref.model, (Turn("user", (text,)),), _JUDGE_SYSTEM, _JUDGE_TOKENS, False
    )
    key = _key(plan.judge_ref, request, 0)
    task = Task(key, plan.judge_ref, case.position, 0, request, _size(request), _JUDGE_TOKENS)
    task.cached, task.swapped, task.candidate = store.cached(key), swapped, ref
    return task


def judge(
    plan: Plan, store: RunStore, tasks: Sequence[Task], replies: dict[str, Reply]
) -> Verdicts:
    """The verdict for each (case, candidate) the judge saw."""
    votes: dict[tuple[int, str], list[str]] = {}
    for task in tasks:
        reply = replies.get(task.key)
        word = verdict_word(reply.text) if reply is not None and reply.usable else "none"
        sides = ("candidate", "original") if task.swapped else ("original", "candidate")
        said = {"A": sides[0], "B": sides[1]}.get(word, word)
        votes.setdefault((task.position, str(task.candidate)), []).append(said)
    return {key: _verdict(said) for key, said in votes.items()}


def verdict_word(text: str) -> str:
    """``A``, ``B``, ``tie`` or ``unclear``. The strict line (``VERDICT: B``) first; else the
    reply as judges write it — a bare letter, a reply that is only "Answer B", "Assistant B is
    better", "A is worse than B", "Both are equally good", "Neither A nor B is better" (a
    tie: a negated subject is no vote for it). Naming an answer in a sentence is no vote for
    it ("Answer A is wrong"). A reply naming more than one verdict, or none, is
    ``unclear``: no vote, rather than a wrong one (an "A" that is only an article)."""
    flat = " ".join(re.sub(r"[*_`#\"']", " ", text).upper().split())
    for read in (_strict, _bare, _compared, _named):
        said = read(flat)
        if said:
            return next(iter(said)) if len(said) == 1 else "unclear"
    return "unclear"


def _strict(flat: str) -> set[str]:
    return {_side(m.group(1)) for m in _STRICT.finditer(flat)}


def _bare(flat: str) -> set[str]:
    found = _BARE.fullmatch(flat)
    return {_side(found.group(1))} if found else set()


def _compared(flat: str) -> set[str]:
    """ "B is better", "A is worse": a vote, unless its subject is negated or one of two
    (``_UNSAID``): "Neither A nor B is better" is read by ``_named`` (a tie)."""
    said = set()
    for found in _COMPARED.finditer(flat):
        if _UNSAID.search(flat, 0, found.start()):
            continue
        letter = found.group(1)
        said.add(letter if found.group(2) else {"A": "B", "B": "A"}[letter])
    return said


def _named(flat: str) -> set[str]:
    """A reply that is an answer's name alone ("Answer B", "Option A."), or a short one led by
    a letter ("B wins"). Naming an answer inside a sentence is no vote for it: "Answer A is
    wrong", "B is less accurate than A" name the answer they judge against."""
    said = set()
    named = _NAMED.fullmatch(flat)
    if named:
        said.add(_side(named.group(1)))
    lead = _LEAD.match(flat)
    if lead and len(re.findall(r"\w+", flat)) <= _LEAD_WORDS:
        said.add(_side(lead.group(1)))
    if _TIE.search(flat):
        said.add("tie")
    return said


def _side(word: str) -> str:
    return "tie" if word == "TIE" else word


def _verdict(votes: list[str]) -> dict[str, Any]:
    """The same verdict both ways counts; two that differ are ``split``. A vote the judge did
    not give clearly (``unclear``, ``none``) is no vote: the other one decides, and with none
    the verdict is ``unclear``."""
    names = {"candidate": "better", "original": "worse", "tie": "same"}
    verdicts = {names[v] for v in votes if v in names}
    if not verdicts:
        return {"verdict": "unclear", "votes": votes}
    return {"verdict": verdicts.pop() if len(verdicts) == 1 else "split", "votes": votes}


def scored(plan: Plan, replies: dict[str, Reply], verdicts: Verdicts | None = None) -> Scored:
    refs = [str(ref) for ref in plan.refs]
    return score(plan.cases, refs, answers_by_case(plan, replies), plan.embedder, verdicts)
