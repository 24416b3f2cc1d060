"""Print the router's figures against a real open model on loopback (docs/performance.md,
"Carry on"; issue 11, item 8).

The model is SmolLM2-135M under llama.cpp's llama-server on 127.0.0.1, one thread,
temperature 0 (``tests/model/server.py``; install both with ``scripts/install-local-model``).

1. **Router overhead per request.** The same streamed request (a short prompt, ``--tokens``
   tokens asked for) sent through the openai SDK directly and through freehold's router
   (``Router.run`` over the ``openai`` provider, consumed to its end), alternately, the order
   swapped every round so that drift and the server's cache treat both alike. Printed: p50/p95
   of each and of the paired difference (router − direct, the same round), in wall time and
   in this process's CPU time (which other work on the machine does not inflate). The same
   comparison runs against the wire test server (``tests/providers/servers.py``), whose
   answer costs no inference: the difference there is freehold's own time, with less noise.
   ``--session`` adds ``Session.ask``/``finish`` as ``freehold chat`` runs them (the prompt
   and the answer stored in an archive, the conversion, the lifecycle checks), one-shot (a
   new session per turn, as one command) and interactive (one session kept).
2. **A primary's 529 to the fallback's first token.** A route of two models: the wire server
   answering 529 (overloaded) to the primary, then the local model. The router runs with
   the default policy (two tries of the primary, a random back-off up to 0.5 s between
   them), a fresh router each run (circuits closed, as a one-shot ``freehold chat``). Printed:
   the back-off the router slept, the time from the first 529 to the fallback's first token
   less that back-off, and from the last 529 to that token; beside them, the local model's own
   time to first token asked directly (what any failover has to wait for). The first run is
   printed apart: it opens the fallback's connection (and its SDK client) for the first time.

    python benchmarks/router.py                     # 200 rounds, 20 failovers: ~2 min
    python benchmarks/router.py --rounds 300 --failovers 30 --session   # ~3 min

Nothing is asserted; the tests never time anything.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import openai  # noqa: E402

from freehold.config import ModelRef, Policy, ProviderConfig  # noqa: E402
from freehold.errors import ProviderError  # noqa: E402
from freehold.providers.base import ChatRequest, Provider, Text, Turn, connect  # noqa: E402
from freehold.router import Router  # noqa: E402
from tests.model.server import ALIAS, LlamaServer, missing  # noqa: E402
from tests.providers.servers import Script, WireServer  # noqa: E402

PROMPT = "Reply with one word: yes or no. Is the sky blue?"
OVERLOADED = {"error": {"type": "overloaded_error", "message": "Overloaded"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="pairs of requests (overhead)")
    parser.add_argument("--failovers", type=int, default=20, help="529 → fallback runs")
    parser.add_argument("--tokens", type=int, default=4, help="tokens each answer asks for")
    parser.add_argument("--session", action="store_true", help="also time freehold chat's path")
    options = parser.parse_args()
    why = missing()
    if why is not None:
        sys.exit(f"router.py: {why}")
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with LlamaServer() as llama, WireServer() as wire:
        local = ProviderConfig(
            "local", "openai", base_url=llama.base_url, max_tokens=options.tokens
        )
        overhead("llama-server, SmolLM2-135M", local, ALIAS, options)
        wire_config = ProviderConfig(
            "wire", "openai", base_url=wire.base_url("openai"), max_tokens=options.tokens
        )
        overhead("wire server (no inference)", wire_config, "model-a-20250101", options)
        failover(wire, local, options)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


# --- 1. overhead ----------------------------------------------------------------------------


def overhead(label: str, config: ProviderConfig, model: str, options: argparse.Namespace) -> None:
    client = openai.OpenAI(base_url=config.base_url, api_key="none", max_retries=0)
    provider = connect(config)
    router = Router({config.name: provider})
    paths: dict[str, Callable[[], None]] = {
        "direct SDK": lambda: _direct(client, model, options.tokens),
        "router": lambda: _routed(router, config.name, model, options.tokens),
    }
    with tempfile.TemporaryDirectory() as home, ExitStack() as stack:
        if options.session:
            paths.update(_session_paths(Path(home), config, model, stack))
        for run in paths.values():  # warm both: connections open, the prompt cached
            for _ in range(5):
                run()
        times: dict[str, list[float]] = {name: [] for name in paths}
        cpu: dict[str, list[float]] = {name: [] for name in paths}
        names = list(paths)
        for round_number in range(options.rounds):
            order = names if round_number % 2 == 0 else names[::-1]
            for name in order:
                started, used = time.perf_counter(), time.process_time()
                paths[name]()
                times[name].append((time.perf_counter() - started) * 1000)
                cpu[name].append((time.process_time() - used) * 1000)
    client.close()
    provider.close()
    print(f"\nrouter overhead, {label}: {options.rounds} rounds, {options.tokens} tokens each")
    _table("wall time", times, names)
    # the CPU this process spent: what freehold adds, unblurred by waiting for the two cores
    # (against the wire server it includes the server's own, the same for every path)
    _table("CPU time of this process", cpu, names)


def _table(title: str, found: dict[str, list[float]], names: list[str]) -> None:
    print(f"  {title}:")
    for name in names:
        print(f"    {name:<28} {_spread(found[name])}")
    for name in names[1:]:
        differences = [a - b for a, b in zip(found[name], found[names[0]], strict=True)]
        print(f"    {name + ' − direct':<28} {_spread(differences)}  (paired)")


def _direct(client: openai.OpenAI, model: str, tokens: int) -> None:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        for _chunk in stream:
            pass


def _routed(router: Router, name: str, model: str, tokens: int) -> None:
    request = ChatRequest(model, (Turn("user", (PROMPT,)),), max_tokens=tokens)
    run = router.run([ModelRef(name, model)], lambda _provider, _ref: (request, []))
    for _event in run:
        pass
    assert run.answer.status == "complete", run.answer


def _session_paths(
    home: Path, config: ProviderConfig, model: str, stack: ExitStack
) -> dict[str, Callable[[], None]]:
    """``freehold chat -m NAME:MODEL PROMPT`` in process, less the printing: one-shot (the
    archive opened, the provider's client made, as each command does) and interactive (one
    session kept: its archive, router and clients), each turn a new conversation."""
    os.environ["FREEHOLD_HOME"] = str(home)
    from freehold.archive import open_archive
    from freehold.chat import Session
    from freehold.config import Config

    settings = Config(home / "config.toml", providers={config.name: config})
    target = settings.model(f"{config.name}:{model}")

    def turn(session: Session) -> None:
        session.conversation_id, session.parent = None, None  # a new conversation each time
        pending = session.ask(PROMPT)
        for _event in pending.run:
            pass
        assert pending.finish().status == "complete"

    def one_shot() -> None:
        with open_archive(create=True) as archive:
            session = Session(archive, settings, target)
            try:
                turn(session)
            finally:
                session.close()

    kept = Session(stack.enter_context(open_archive(create=True)), settings, target)
    stack.callback(kept.close)
    return {"chat, one-shot": one_shot, "chat, interactive": lambda: turn(kept)}


# --- 2. failover ----------------------------------------------------------------------------


class _Timed:
    """A provider passed through, noting when each of its faults reached the router."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.faults: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, request: ChatRequest) -> Iterator[Any]:
        try:
            yield from self.inner.stream(request)
        except ProviderError:
            self.faults.append(time.perf_counter())
            raise


def failover(wire: WireServer, local: ProviderConfig, options: argparse.Namespace) -> None:
    primary = ProviderConfig("busy", "anthropic", base_url=wire.base_url("anthropic"))
    busy, fallback = connect(primary), connect(local)
    route = [ModelRef("busy", "claude-sonnet-4-5-20250929"), ModelRef("local", ALIAS)]
    client = openai.OpenAI(base_url=local.base_url, api_key="none", max_retries=0)
    policy = Policy()
    beyond, after_last, slept_all, ttft = [], [], [], []
    for number in range(options.failovers + 1):  # the first run is cold: reported apart
        ttft.append(_first_token_direct(client, options.tokens))
        wire.scripts.clear()
        wire.queue(*[Script(status=529, body=OVERLOADED)] * policy.attempts_per_model)
        timed = _Timed(busy)
        slept: list[float] = []

        def sleep(seconds: float, slept: list[float] = slept) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        router = Router({"busy": timed, "local": fallback}, policy, sleep=sleep)  # type: ignore[dict-item]
        run = router.run(route, lambda _p, ref: (_request(ref.model, options.tokens), []))
        first = next(e for e in run if isinstance(e, Text))
        arrived = time.perf_counter()
        assert first.text and len(timed.faults) == policy.attempts_per_model
        for _event in run:
            pass
        assert run.answer.provider == "local" and run.answer.status == "complete"
        if number == 0:
            cold = (arrived - timed.faults[0] - sum(slept)) * 1000
            continue
        slept_all.append(sum(slept) * 1000)
        beyond.append((arrived - timed.faults[0] - sum(slept)) * 1000)
        after_last.append((arrived - timed.faults[-1]) * 1000)
    busy.close()
    fallback.close()
    client.close()
    print(
        f"\n529 → first token from the fallback: {options.failovers} runs, default policy "
        f"({policy.attempts_per_model} tries of the primary, back-off up to "
        f"{policy.backoff_base:g} s)"
    )
    print(f"  {'back-off slept':<42} {_spread(slept_all)}")
    print(f"  {'first 529 → token, less back-off':<42} {_spread(beyond)}")
    print(f"  {'last 529 → token':<42} {_spread(after_last)}")
    print(f"  {'the local model alone (direct TTFT)':<42} {_spread(ttft[1:])}")
    print(f"  {'cold (the first run), less back-off':<42} {cold:8.2f} ms")


def _request(model: str, tokens: int) -> ChatRequest:
    return ChatRequest(model, (Turn("user", (PROMPT,)),), max_tokens=tokens)


def _first_token_direct(client: openai.OpenAI, tokens: int) -> float:
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=ALIAS,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=tokens,
        stream=True,
    )
    with stream:
        first: float | None = None
        for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = (time.perf_counter() - started) * 1000
    assert first is not None
    return first


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):8.2f} ms   p95 {p95:8.2f} ms   "
        f"min {ordered[0]:7.2f}   max {ordered[-1]:8.2f}"
    )


if __name__ == "__main__":
    main()
