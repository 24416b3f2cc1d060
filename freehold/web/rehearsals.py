"""The rehearsal pages (read only): ``/rehearsals`` lists the runs, ``/rehearsals/N`` shows one
with every answer beside the original, worst drift first.

They read ``rehearsals.sqlite`` (``RunStore``), never the archive; a data folder where no
rehearsal ever ran shows an empty list and creates nothing. Answers are rendered from Markdown
through ``safehtml`` like messages are.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from freehold.errors import NotFoundError
from freehold.rehearse.store import STORE_NAME, RunStore
from freehold.safehtml import render_markdown
from freehold.web.render import page

__all__ = ["STATUS_LABELS", "rehearsal", "rehearsals"]

# What the page calls an answer that is not ``ok`` (``score._one``'s ``status``: a reply's
# ``outcome``, or ``missing`` where none was stored), translated in the template.
STATUS_LABELS = {
    "empty": "empty answer",
    "failed": "failed",
    "interrupted": "interrupted",
    "missing": "no answer stored",
}


def _path(request: Request) -> Path:
    return Path(request.app.state.archives.home) / STORE_NAME


def rehearsals(request: Request) -> Response:
    with RunStore(_path(request), create=False) as store:
        runs = [run for run in store.runs() if run["summary"] is not None]
    return page(request, "rehearsals.html", {"runs": runs})


def rehearsal(request: Request) -> Response:
    number = int(request.path_params["run"])
    with RunStore(_path(request), create=False) as store:
        doc = store.document(number)
    if doc is None:
        raise NotFoundError(f"no finished rehearsal {number} — `freehold rehearse` makes one")
    markdown = lambda text: Markup(render_markdown(text))  # noqa: E731
    return page(request, "rehearsal.html", {**doc, "markdown": markdown, "statuses": STATUS_LABELS})
