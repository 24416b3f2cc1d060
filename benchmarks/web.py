"""Print the web app's speed figures: page times measured against a real `freehold serve`.

The archive is a generated export (``genexport.py``, seed 1, imported by the real ``freehold
import`` through ``run.py``'s helpers) plus one synthetic ChatGPT conversation of 1,000
messages (Markdown paragraphs, lists, tables, code in several languages, four branches),
imported with ``freehold.ingest.import_path``. The app (``create_app``) then runs under uvicorn
on 127.0.0.1 in a thread, configured as ``freehold serve`` configures it, and an httpx client
times whole requests (sent to last byte read): the 1,000-message conversation, search pages
from rare to very common words (a filtered one and page 2 too), the conversation list (first
and last page) and the home page. Nothing is asserted; the figures are printed for
docs/performance.md, followed by where a page's time goes: the same endpoint called in process
with timers around each stage (unprofiled), then cProfile's most expensive functions.

    python benchmarks/web.py                  # 1 GB export: ~70 s to build, ~5 min to measure
    python benchmarks/web.py --size 100MB     # ~3 min in all
    python benchmarks/web.py --home PATH      # reuse an archive (the long conversation is
                                              # added if it is not there yet)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import random
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
import jinja2  # noqa: E402
import uvicorn  # noqa: E402
from genexport import Json, _Ids, _Text  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from run import generate_export, import_export, parse_size  # noqa: E402

from freehold import safehtml  # noqa: E402
from freehold.archive import Archive, conversation_id, open_archive  # noqa: E402
from freehold.cli.serve import listen  # noqa: E402
from freehold.ingest import import_path  # noqa: E402
from freehold.web import create_app, new_token, render, views  # noqa: E402
from freehold.web.workers import Renderers  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 150)

LONG_ID = "bench-long-conversation-1000"
LONG_TITLE = "Long working session (1,000 messages)"
LONG_TURNS = 500  # one user message and one answer each: 1,000 messages on the visible path
# (turn, kind): an edited prompt or a regenerated answer, the older sibling left off the path
LONG_FORKS = {60: "edit", 180: "regenerate", 320: "edit", 450: "regenerate"}
# Topics of genexport's text, 50 turns each: code in Python, SQL, Rust, JavaScript, YAML and
# Bash, and prose topics in between.
LONG_TOPICS = (1, 2, 7, 12, 10, 4, 14, 0, 8, 13)
STATIC = "/static/app.css"
MODES = {
    "serve": "the listening socket made as `freehold serve` makes it (freehold.cli.serve.listen)",
    "nodelay": "the socket made with IPPROTO_TCP, so asyncio sets TCP_NODELAY on connections",
}


# --------------------------------------------------------------------------- archive


def long_conversation(seed: int = 7) -> Json:
    """One ChatGPT export conversation (2024 shape) with 1,000 messages on its visible path."""
    rng = random.Random(seed)
    text = _Text(rng)
    ids = _Ids(rng)
    clock = [1717200000.0]  # 2024-06-01
    mapping: dict[str, Json] = {}

    def node(parent: str | None, role: str | None, body: str, model: str | None = None) -> str:
        nid = ids.uuid()
        message = None
        if role is not None:
            clock[0] += rng.uniform(5, 90)
            meta: Json = {"timestamp_": "absolute", "message_type": None}
            if role == "assistant":
                meta.update(model_slug=model, default_model_slug=model, parent_id=parent)
                meta["finish_details"] = {"type": "stop", "stop_tokens": [100260]}
            message = {
                "id": nid,
                "author": {"role": role, "name": None, "metadata": {}},
                "create_time": round(clock[0], 6),
                "update_time": None,
                "content": {"content_type": "text", "parts": [body]},
                "status": "finished_successfully",
                "end_turn": None if role == "user" else True,
                "weight": 1.0,
                "metadata": meta,
                "recipient": "all",
            }
        mapping[nid] = {"id": nid, "message": message, "parent": parent, "children": []}
        if parent is not None:
            mapping[parent]["children"].append(nid)
        return nid

    start = clock[0]
    parent = node(None, None, "")  # the mapping's root, without a message
    for turn in range(LONG_TURNS):
        topic = LONG_TOPICS[turn * len(LONG_TOPICS) // LONG_TURNS]
        model = "gpt-4o" if turn % 7 else "gpt-4"
        fork = LONG_FORKS.get(turn)
        if fork == "edit":  # the first wording of the prompt, answered, then edited
            first = node(parent, "user", text.prompt(topic, "en"))
            node(first, "assistant", text.answer(topic, "en"), model)
        user = node(parent, "user", text.prompt(topic, "en"))
        if fork == "regenerate":  # the first answer, then regenerated
            node(user, "assistant", text.answer(topic, "en"), model)
        parent = node(user, "assistant", text.answer(topic, "en"), model)
    return {
        "title": LONG_TITLE,
        "create_time": start,
        "update_time": round(clock[0], 6),
        "mapping": mapping,
        "moderation_results": [],
        "current_node": parent,
        "plugin_ids": None,
        "conversation_id": LONG_ID,
        "conversation_template_id": None,
        "gizmo_id": None,
        "is_archived": False,
        "safe_urls": [],
        "default_model_slug": "gpt-4o",
        "id": LONG_ID,
    }


def add_long_conversation(home: Path) -> str:
    """Import the long conversation (once) into the archive in ``home``; its freehold id."""
    cid = conversation_id("chatgpt", LONG_ID)
    with open_archive(home) as archive:
        present = archive.db.execute("SELECT 1 FROM conversations WHERE id = ?", (cid,)).fetchone()
        if present is None:
            with tempfile.TemporaryDirectory(prefix="freehold-bench-") as tmp:
                path = Path(tmp) / "conversations.json"
                path.write_text(json.dumps([long_conversation()]), encoding="ascii")
                started = time.perf_counter()
                report = import_path(archive, path)
                console.print(
                    f"long conversation: {path.stat().st_size / 1e6:.1f} MB of JSON, "
                    f"{report.messages['read']:,} messages, imported in "
                    f"{time.perf_counter() - started:.1f} s"
                )
    return cid


def build_archive(work: Path, size: int, layout: str) -> dict[str, Any]:
    """Generate the export, import it into a fresh ``work/home``; what that took."""
    started = time.perf_counter()
    export, stats = generate_export(work, size, layout)
    generated = time.perf_counter() - started
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    wall, rss, report = import_export(export, home)
    console.print(
        f"export: {stats.bytes_json / 1e6:,.0f} MB of JSON, generated in {generated:.0f} s; "
        f"imported in {wall:.0f} s (peak RSS {rss:.0f} MB): "
        f"{report['conversations']['read']:,} conversations, "
        f"{report['messages']['read']:,} messages"
    )
    return {"json_mb": stats.bytes_json / 1e6}


def archive_facts(home: Path, long_id: str) -> dict[str, Any]:
    with open_archive(home) as archive:
        db = archive.db
        one = lambda sql, *args: db.execute(sql, args).fetchone()  # noqa: E731
        conversations = one("SELECT count(*) FROM conversations")[0]
        messages = one("SELECT count(*) FROM messages")[0]
        on_path = one(
            "SELECT count(*) FROM messages WHERE conversation_id = ? AND on_visible_path", long_id
        )[0]
        long_all = one("SELECT count(*) FROM messages WHERE conversation_id = ?", long_id)[0]
        # A typical conversation: the median message count, the most recently updated of those.
        median = one(
            "SELECT message_count FROM conversations ORDER BY message_count "
            "LIMIT 1 OFFSET (SELECT count(*) / 2 FROM conversations)"
        )[0]
        typical = one(
            "SELECT id FROM conversations WHERE message_count = ? ORDER BY updated_at DESC",
            median,
        )[0]
        fork = one(
            "SELECT m.id FROM messages m WHERE m.conversation_id = ? AND NOT m.on_visible_path "
            "ORDER BY m.id LIMIT 1",
            long_id,
        )[0]
    return {
        "conversations": conversations,
        "messages": messages,
        "db_mb": (home / "archive.sqlite").stat().st_size / 1e6,
        "long_on_path": on_path,
        "long_all": long_all,
        "typical": typical,
        "typical_messages": median,
        "fork_message": fork,
    }


# --------------------------------------------------------------------------- server


@dataclass
class Served:
    url: str
    port: int
    token: str
    app: Any  # the Starlette app inside the guard

    def client(self) -> httpx.Client:
        cookies = {f"freehold_token_{self.port}": self.token}
        return httpx.Client(base_url=self.url, cookies=cookies, timeout=120)


def listening_socket(mode: str) -> socket.socket:
    """A bound socket on 127.0.0.1, a free port: made by ``freehold serve``'s own ``listen``
    (mode "serve"), or with ``IPPROTO_TCP`` named (mode "nodelay"), so that asyncio sets
    TCP_NODELAY on every connection it accepts."""
    if mode == "serve":
        return listen("127.0.0.1", 0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(home: Path, mode: str) -> Iterator[Served]:
    """The real app under uvicorn, in a thread, configured as `freehold serve` configures it."""
    sock = listening_socket(mode)
    port = sock.getsockname()[1]
    token = new_token()
    guard = create_app(home, token, port=port)
    config = uvicorn.Config(guard, log_level="warning", server_header=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", port, token, guard.app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


# --------------------------------------------------------------------------- HTTP timings


@dataclass
class Figure:
    label: str
    timings: list[float] = field(default_factory=list)  # ms
    size: int = 0  # bytes of the last response

    @property
    def p50(self) -> float:
        return statistics.median(self.timings)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.timings, n=20)[18]


def timed_gets(client: httpx.Client, label: str, url: str, count: int, warmup: int = 2) -> Figure:
    figure = Figure(label)
    for index in range(warmup + count):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}\n{response.text[:500]}")
        if index >= warmup:
            figure.timings.append(elapsed)
        figure.size = len(response.content)
    return figure


def search_urls() -> list[tuple[str, str]]:
    """Queries from no hit to very common (genexport's vocabulary; FTS5 stems words)."""
    return [
        ("no hit: invoice", "/search?q=invoice"),
        ("rare: stackoverflow", "/search?q=stackoverflow"),
        ("rare: rotterdam", "/search?q=rotterdam"),
        ("medium: wetland", "/search?q=wetland"),
        ("common: python", "/search?q=python"),
        ("two words: sourdough starter", "/search?q=sourdough+starter"),
        ('phrase: "much easier"', "/search?q=%22much+easier%22"),
        ("very common: the", "/search?q=the"),
        ("filtered: python, assistant, gpt-4o", "/search?q=python&role=assistant&model=gpt-4o"),
        ("page 2: the", "/search?q=the&page=2"),
    ]


def measure(served: Served, facts: dict[str, Any], args: argparse.Namespace) -> list[Figure]:
    long_url = f"/conversations/{facts['long_id']}"
    figures: list[Figure] = []
    with served.client() as client:
        figures.append(timed_gets(client, "a static file (the transport alone)", STATIC, 20))
        n = args.conversation_requests
        figures.append(
            timed_gets(client, f"conversation, {facts['long_on_path']:,} messages", long_url, n, 3)
        )
        renderers = served.app.state.renderers
        helpers, renderers.workers = renderers.workers, 0
        figures.append(timed_gets(client, "same, no render helper (one process)", long_url, n, 1))
        renderers.workers = helpers
        figures.append(
            timed_gets(
                client,
                "same, another branch (?at=)",
                f"{long_url}?at={facts['fork_message']}",
                n,
            )
        )
        figures.append(
            timed_gets(
                client,
                f"conversation, typical ({facts['typical_messages']} messages)",
                f"/conversations/{facts['typical']}",
                n,
            )
        )
        searches = [
            timed_gets(client, f"search, {label}", url, args.search_rounds)
            for label, url in search_urls()
        ]
        every = Figure("search, all of the above")
        every.timings = [t for figure in searches for t in figure.timings]
        every.size = max(figure.size for figure in searches)
        figures += [*searches, every]
        last = max(1, -(-facts["conversations"] // 50))
        figures.append(timed_gets(client, "conversation list, page 1", "/conversations", 20))
        deep = f"/conversations?page={last}"
        figures.append(timed_gets(client, f"conversation list, page {last:,} (last)", deep, 20))
        figures.append(timed_gets(client, "home", "/", 20))
    return figures


def print_figures(runs: dict[str, list[Figure]], title: str) -> None:
    """One row per page; p50 and p95 for each socket mode measured."""
    table = Table(title=title, title_justify="left")
    for column in ("page", "requests", "KB"):
        table.add_column(column, justify="left" if column == "page" else "right")
    for mode in runs:
        table.add_column(f"{mode} p50 ms", justify="right")
        table.add_column(f"{mode} p95 ms", justify="right")
    first = next(iter(runs.values()))
    for index, figure in enumerate(first):
        row = [figure.label, str(len(figure.timings)), f"{figure.size / 1000:,.0f}"]
        for figures in runs.values():
            row += [f"{figures[index].p50:,.1f}", f"{figures[index].p95:,.1f}"]
        table.add_row(*row)
    console.print(table)
    for mode in runs:
        console.print(f"  {mode}: {MODES[mode]}")


# --------------------------------------------------------------------------- where the time goes


class Stages:
    """Exclusive wall time per stage: timers wrapped around functions, nested calls subtracted."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.stack: list[list[float]] = []
        self.undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # renamed since: the stage is left out, the others still timed
            console.print(f"[yellow]no {name} to time as {label!r}[/]")
            return
        stages = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            stages.stack.append([0.0])
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                inner = stages.stack.pop()[0]
                if stages.stack:
                    stages.stack[-1][0] += elapsed
                stages.totals[label] = stages.totals.get(label, 0.0) + elapsed - inner
                stages.calls[label] = stages.calls.get(label, 0) + 1

        self.undo.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, before in reversed(self.undo):
            if before is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, before)
        self.undo.clear()


_MISSING = object()


def instrument(stages: Stages) -> None:
    """Timers on every stage of a page: SQL, Markdown, sanitiser, highlighter, templates."""
    stages.wrap(Archive, "get_conversation", "load_conversation (SQLite + orjson)")
    stages.wrap(Archive, "stats", "archive.stats()")
    stages.wrap(Archive, "search_page", "search_page (FTS5 + snippets)")
    stages.wrap(Archive, "conversation_rows", "conversation_rows (list, sidebar)")
    for name in ("models", "kinds", "sources"):
        stages.wrap(Archive, name, f"archive.{name}()")
    stages.wrap(render, "choose_path", "choose_path")
    stages.wrap(safehtml, "_render", "cmark-gfm")
    stages.wrap(safehtml, "highlight", "pygments")
    shim = SimpleNamespace(clean=safehtml._CLEANER.clean)
    stages.wrap(shim, "clean", "nh3")
    stages.undo.append((safehtml, "_CLEANER", safehtml._CLEANER))
    safehtml._CLEANER = shim  # type: ignore[assignment]
    stages.wrap(jinja2.Template, "render", "jinja2 templates")


def fake_request(served: Served, path: str, query: str = "", **params: str) -> Any:
    from starlette.requests import Request

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", served.port),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", f"127.0.0.1:{served.port}".encode())],
        "app": served.app,
        "state": {"csrf": "x", "authorized": True},
        "path_params": params,
    }
    return Request(scope)


def breakdown(
    served: Served, label: str, call: Callable[[], Any], rounds: int
) -> tuple[float, dict[str, float], dict[str, int]]:
    """Mean wall ms of the endpoint called in process, and its mean exclusive ms per stage."""
    call()  # warm: connection, caches, lexers
    stages = Stages()
    walls = []
    instrument(stages)
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            call()
            walls.append((time.perf_counter() - started) * 1000)
    finally:
        stages.restore()
    mean = {k: v * 1000 / rounds for k, v in stages.totals.items()}
    calls = {k: v // rounds for k, v in stages.calls.items()}
    return statistics.fmean(walls), mean, calls


def print_breakdown(title: str, wall: float, mean: dict[str, float], calls: dict[str, int]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("stage", "calls", "ms", "share"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    total = sum(mean.values())
    rest = max(0.0, wall - total)
    for label, value in sorted(mean.items(), key=lambda item: -item[1]):
        table.add_row(label, f"{calls[label]:,}", f"{value:,.1f}", f"{value / wall:.0%}")
    table.add_row("everything else (Starlette, Body glue, …)", "", f"{rest:,.1f}", "")
    table.add_row("endpoint, mean wall", "", f"{wall:,.1f}", "")
    console.print(table)


def print_profile(call: Callable[[], Any], rounds: int, top: int) -> None:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(rounds):
        call()
    profile.disable()
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = _short(filename, line, name)
        rows.append((tottime, cumtime, ncalls, where))
    rows.sort(reverse=True)
    table = Table(title=f"cProfile, {rounds} calls, top {top} by own time", title_justify="left")
    for column in ("function", "calls", "own ms", "cumulative ms"):
        table.add_column(column, justify="left" if column == "function" else "right")
    for tottime, cumtime, ncalls, where in rows[:top]:
        table.add_row(
            where, f"{ncalls // rounds:,}", f"{tottime * 1000 / rounds:,.1f}",
            f"{cumtime * 1000 / rounds:,.1f}",
        )  # fmt: skip
    console.print(table)


def _short(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name
    parts = Path(filename).parts
    for anchor in ("site-packages", "freehold"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + (anchor == "site-packages") :]
            break
    else:
        parts = parts[-2:]
    return f"{'/'.join(parts)}:{line} {name}"


def explain(served: Served, facts: dict[str, Any], args: argparse.Namespace) -> None:
    cid = facts["long_id"]
    pages: list[tuple[str, Callable[[], Any]]] = [
        (
            f"conversation page, {facts['long_on_path']:,} messages",
            lambda: views.conversation(fake_request(served, f"/conversations/{cid}", cid=cid)),
        ),
        (
            "search page, 'the'",
            lambda: views.search(fake_request(served, "/search", "q=the")),
        ),
        (
            "search page, 'rotterdam'",
            lambda: views.search(fake_request(served, "/search", "q=rotterdam")),
        ),
        (
            "conversation list, page 1",
            lambda: views.conversations(fake_request(served, "/conversations")),
        ),
        ("home page", lambda: views.home(fake_request(served, "/"))),
    ]
    for title, call in pages:
        wall, mean, calls = breakdown(served, title, call, args.breakdown_rounds)
        print_breakdown(f"Where the time goes: {title} (in process, unprofiled)", wall, mean, calls)
    if args.profile:
        print_profile(pages[0][1], 5, args.profile_top)


# --------------------------------------------------------------------------- main


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.platform(terse=True)}"
    )


def cpu_busy() -> tuple[float, float, float]:
    """(wall, CPU seconds busy on the whole machine, CPU seconds of this process)."""
    busy = 0.0
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = [int(value) for value in fields]
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return time.monotonic(), busy, time.process_time()


def probe() -> float:
    """Median ms of a fixed pure-Python loop. A virtual machine's speed drifts (by a quarter
    on the project's machine, minute to minute, with nothing else running): printed before
    and after the runs, it tells a slow phase from a slow change."""
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        total = 0
        for value in range(1_000_000):
            total += value
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def others(what: str, before: tuple[float, float, float], speed: float) -> None:
    """How much CPU other processes took while a step ran (the machine has 2 cores: anything
    else running slows the figures), and the speed probe before and after it."""
    wall, busy, own = (b - a for a, b in zip(before, cpu_busy(), strict=True))
    share = max(0.0, busy - own) / wall if busy > 0 else 0.0
    flag = (
        "  [bold red]busy machine: these figures are slower than the app[/]" if share > 0.25 else ""
    )
    console.print(
        f"{what}: other processes {share:.2f} cores on average; CPU speed probe "
        f"{speed:.0f} → {probe():.0f} ms (a fixed pure-Python loop, lower is faster){flag}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GB", help="export to generate, e.g. 100MB, 1GB")
    parser.add_argument("--layout", default="single", choices=["single", "sharded"])
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--home", type=Path, help="reuse this archive instead of building one")
    parser.add_argument("--conversation-requests", type=int, default=30)
    parser.add_argument("--search-rounds", type=int, default=20, help="requests per query")
    parser.add_argument("--breakdown-rounds", type=int, default=10)
    parser.add_argument(
        "--socket",
        default="both",
        choices=["both", *MODES],
        help="serve: the socket `freehold serve` makes; nodelay: with TCP_NODELAY; both",
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args()
    built: dict[str, Any] = {}
    if args.home is None:
        work = args.workdir / f"web-{args.layout}-{args.size}"
        built = build_archive(work, parse_size(args.size), args.layout)
        home = work / "home"
    else:
        home = args.home
        if not (home / "archive.sqlite").is_file():
            sys.exit(f"{home}: no archive.sqlite there")
    long_id = add_long_conversation(home)
    facts = {**archive_facts(home, long_id), "long_id": long_id, **built}
    console.print(f"machine: {machine()}; render helpers: {Renderers().workers}")
    console.print(
        f"archive: {home}, {facts['db_mb']:,.0f} MB, {facts['conversations']:,} conversations, "
        f"{facts['messages']:,} messages; long conversation {long_id}: "
        f"{facts['long_on_path']:,} messages on its visible path, {facts['long_all']:,} in all"
    )
    modes = list(MODES) if args.socket == "both" else [args.socket]
    runs: dict[str, list[Figure]] = {}
    for mode in modes:
        with serving(home, mode) as served:
            before, speed = cpu_busy(), probe()
            runs[mode] = measure(served, facts, args)
            others(f"{mode} run", before, speed)
    print_figures(runs, f"Web app over HTTP, httpx → uvicorn on 127.0.0.1 ({home})")
    for mode, figures in runs.items():
        long_page = next(f for f in figures if f.label.startswith("conversation, 1"))
        every = next(f for f in figures if f.label.endswith("all of the above"))
        console.print(
            f"targets, {mode}: 1,000-message conversation ≤ 200 ms: "
            f"p50 {long_page.p50:.0f} ms, p95 {long_page.p95:.0f} ms; "
            f"search ≤ 100 ms p95: {every.p95:.0f} ms"
        )
    with serving(home, modes[-1]) as served:
        before, speed = cpu_busy(), probe()
        served.app.state.renderers.workers = 0  # every stage in this process, to be timed
        explain(served, facts, args)
        others("breakdown", before, speed)


if __name__ == "__main__":
    main()
