"""``create_app(home, token)``: the local web app to browse, search and read an archive.

The route list below is the whole surface. Every request first passes ``security.Guard``
(host, token, origin, CSRF, body size, headers: see docs/web.md); errors become pages in one
place, ``_error`` (a page; JSON for the composer's ``fetch``, which asks for it), with the
status, line and headers ``failures.answer`` gives each. Each worker thread opens its own
archive connection on first use (SQLite connections are not shared between threads), and all
of them are closed at shutdown, after any answer still on its way has been stopped and kept
(``turns.Turns``).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from freehold import faults
from freehold.archive import Archive, open_archive
from freehold.errors import FreeholdError
from freehold.safehtml import highlight_css
from freehold.web import rehearsals, views
from freehold.web.failures import answer
from freehold.web.imports import Jobs
from freehold.web.render import page
from freehold.web.security import Guard, GuardConfig
from freehold.web.turns import Turns
from freehold.web.workers import Renderers

__all__ = ["Archives", "create_app", "new_token"]

_STATIC = Path(__file__).parent / "static"


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Archives:
    """One archive connection per thread, opened on first use."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.local = threading.local()
        self.opened: list[Archive] = []
        self.lock = threading.Lock()

    def get(self) -> Archive:
        archive: Archive | None = getattr(self.local, "archive", None)
        if archive is None:
            archive = open_archive(self.home)
            self.local.archive = archive
            with self.lock:
                self.opened.append(archive)
        return archive

    def close(self) -> None:
        with self.lock:
            for archive in self.opened:
                archive.close()
            self.opened.clear()


def _highlight(request: Request) -> Response:
    return Response(
        highlight_css(), media_type="text/css", headers={"cache-control": "max-age=3600"}
    )


ROUTES = [
    Route("/", views.home),
    Route("/conversations", views.conversations),
    Route("/conversations/{cid}", views.conversation),
    Route("/conversations/{cid}/star", views.star, methods=["POST"]),
    Route("/conversations/{cid}/download.{fmt:str}", views.download),
    Route("/conversations/{cid}/continue", views.composer, methods=["GET"]),
    Route("/conversations/{cid}/continue", views.continue_turn, methods=["POST"]),
    Route("/conversations/{cid}/regenerate", views.composer, methods=["GET"]),
    Route("/conversations/{cid}/regenerate", views.regenerate, methods=["POST"]),
    Route("/turns/{turn}/stop", views.stop_turn, methods=["POST"]),
    Route("/docs/providers.md", views.providers_doc),
    Route("/search", views.search),
    Route("/attachments/{sha}", views.attachment),
    Route("/sources/{sid:int}", views.source),
    Route("/import", views.import_form, methods=["GET"]),
    Route("/import", views.import_upload, methods=["POST"]),
    Route("/import/jobs/{job}", views.import_job),
    Route("/exits", views.exit_plan),
    Route("/backups", views.backups),
    Route("/rehearsals", rehearsals.rehearsals),
    Route("/rehearsals/{run:int}", rehearsals.rehearsal),
    Route("/break-test", views.break_test),
    Route("/language/{code}", views.language),
    Route("/highlight.css", _highlight),
    Mount("/static", StaticFiles(directory=_STATIC), name="static"),
]


def _error(request: Request, exc: Exception) -> Response:
    """Errors become pages here, with the status ``failures.answer`` gives them; one that is
    freehold's own bug (``faults.is_bug``) has its traceback kept in the data folder's logs
    first, and says so."""
    if not isinstance(exc, HTTPException) and faults.is_bug(exc):  # a 404, a 405: no bug
        exc = faults.reported(exc, Path(request.app.state.archives.home))
    said = answer(exc)
    if "json" in request.headers.get("accept", ""):  # the composer's fetch: it shows ``error``
        body = {"status": said.status, "error": said.text}
        return JSONResponse(body, status_code=said.status, headers=said.headers)
    context = {"status": said.status, "message": said.text}
    return page(request, "error.html", context, status_code=said.status, headers=said.headers)


def create_app(
    home: Path,
    token: str,
    *,
    port: int = 8765,
    hosts: set[str] | None = None,
    max_upload: int = 8 << 30,
    render_workers: int | None = None,
    notice: Callable[[str], None] | None = None,
) -> Guard:
    """The web app over the archive in ``home``, behind its guard.

    ``render_workers``: helper processes for long conversations (``workers.Renderers``);
    None picks one per core beyond the first, up to 3. ``notice`` is told before a long
    migration of the archive (``open_archive``).
    """
    # A broken archive fails here, at start, not on a first page; migrations run here too.
    # A new one is made for the import page, and taken back at shutdown if nothing came in.
    founding = open_archive(home, notice)
    if founding.created and notice is not None:
        notice(f"no archive at {home} yet: import an export on the Import page")
    if not founding.created:
        founding.close()
    archives = Archives(home)
    renderers = Renderers(render_workers)
    turns = Turns(home)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        turns.close()
        archives.close()
        renderers.close()
        if founding.created:
            founding.discard_if_empty()

    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            FreeholdError: _error,
            HTTPException: _error,
            # handled where they are raised: the disk's fault logs no traceback (faults)
            OSError: _error,
            sqlite3.Error: _error,
            Exception: _error,
        },
        lifespan=lifespan,
    )
    app.state.archives = archives
    app.state.renderers = renderers
    app.state.jobs = Jobs(home)
    app.state.turns = turns
    config = GuardConfig(token, port, hosts or set(), max_upload=max_upload)
    return Guard(app, config)
