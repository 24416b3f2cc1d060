"""The web app's endpoints: each reads its parameters, asks the archive, renders a template.

Endpoints are plain functions (Starlette runs them in its thread pool, each thread with its own
archive connection); errors are raised as ``FreeholdError`` / ``NotFoundError`` /
``HTTPException`` and turned into pages in one place, ``app._error``. Parameters that reach
SQL are passed as values; the only path from a URL to the file system is an attachment's
SHA-256, which must be 64 hex digits *and* a row of the ``attachments`` table.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from freehold import exits
from freehold.errors import FreeholdError, NotFoundError
from freehold.exporters import json as json_export
from freehold.exporters import markdown as markdown_export
from freehold.safehtml import RASTER
from freehold.web.imports import UploadError
from freehold.web.render import conversation_page, page

__all__ = [
    "attachment",
    "conversation",
    "conversations",
    "download",
    "exit_plan",
    "home",
    "import_form",
    "import_job",
    "import_upload",
    "language",
    "search",
    "source",
    "star",
]

_SHA = re.compile(r"[0-9a-f]{64}")
_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only: "²".isdigit() is true, int("²") fails
_PAGE_SIZE = 50
_HITS_PER_PAGE = 20
_ROLES = ("user", "assistant", "system", "tool")


def _archive(request: Request) -> Any:
    return request.app.state.archives.get()


def _text(request: Request, name: str, limit: int = 200) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value[:limit] or None


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name) in ("1", "on", "true")


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not _NUMBER.fullmatch(raw) or not 1 <= int(raw) <= 100_000:
        raise HTTPException(400, "page must be a whole number from 1")
    return int(raw)


def _pager(request: Request, number: int, total: int, size: int) -> dict[str, Any]:
    """Links to the neighbouring pages, keeping every other parameter."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def url(n: int) -> str:
        return f"{request.url.path}?{urlencode([*params, ('page', str(n))])}"

    last = max(1, -(-total // size))
    return {
        "number": number,
        "last": last,
        "previous": url(number - 1) if number > 1 else None,
        "next": url(number + 1) if number < last else None,
    }


def home(request: Request) -> Response:
    archive = _archive(request)
    recent = archive.conversation_rows(limit=12, count=False).rows
    stats = archive.stats(visible=False)  # the page does not show the visible-path count
    context = {"stats": stats, "sources": archive.sources()[::-1][:20], "recent": recent}
    return page(request, "home.html", context)


def conversations(request: Request) -> Response:
    archive = _archive(request)
    number = _page_number(request)
    filters: dict[str, Any] = {
        "source": _text(request, "source"),
        "model": _text(request, "model"),
        "since": _text(request, "since"),
        "until": _text(request, "until"),
        "branched": _flag(request, "branched"),
        "starred": _flag(request, "starred"),
        "gone": _flag(request, "gone"),
    }
    listing = archive.conversation_rows(
        **filters, limit=_PAGE_SIZE, offset=(number - 1) * _PAGE_SIZE
    )
    context = {
        "listing": listing,
        "filters": filters,
        "kinds": sorted(archive.kinds()),
        "models": archive.models(),
        "pager": _pager(request, number, listing.total, _PAGE_SIZE),
    }
    return page(request, "conversations.html", context)


def search(request: Request) -> Response:
    archive = _archive(request)
    query = _text(request, "q", 500)
    filters: dict[str, Any] = {
        "source": _text(request, "source"),
        "model": _text(request, "model"),
        "role": _text(request, "role"),
        "since": _text(request, "since"),
        "until": _text(request, "until"),
    }
    number = _page_number(request)
    result = None
    if query:
        offset = (number - 1) * _HITS_PER_PAGE
        result = archive.search_page(query, **filters, limit=_HITS_PER_PAGE, offset=offset)
    context: dict[str, Any] = {
        "query": query or "",
        "filters": filters,
        "result": result,
        "roles": _ROLES,
        "kinds": sorted(archive.kinds()),
        "facet_url": lambda name, value: _facet_url(request, name, value),
        "pager": _pager(request, number, result.total if result else 0, _HITS_PER_PAGE),
    }
    return page(request, "search.html", context)


def _facet_url(request: Request, name: str, value: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in (name, "page")]
    return f"/search?{urlencode([*params, (name, value)])}"


def conversation(request: Request) -> Response:
    archive = _archive(request)
    conv = archive.get_conversation(request.path_params["cid"])
    raw_at = request.query_params.get("at", "")
    if raw_at and not _NUMBER.fullmatch(raw_at):
        raise HTTPException(400, "at must be a message number")
    return conversation_page(request, conv, int(raw_at) if raw_at else None)


def star(request: Request) -> Response:
    archive = _archive(request)
    cid = archive.resolve(request.path_params["cid"])
    wanted = request.query_params.get("starred") == "1"
    with archive.transaction():
        archive.set_starred(cid, wanted)
    if request.headers.get("hx-request"):
        return page(request, "_star.html", {"cid": cid, "starred": wanted})
    return RedirectResponse(f"/conversations/{cid}", status_code=303)


def download(request: Request) -> Response:
    archive = _archive(request)
    fmt = request.path_params["fmt"]
    if fmt not in ("md", "json"):
        raise NotFoundError(f"no download format {fmt[:20]!r}: use .md or .json")
    conv = archive.get_conversation(request.path_params["cid"])
    if fmt == "json":
        body = json_export.dumps(json_export.conversation_record(archive, conv))
        return _attachment_response(body, f"{conv.id}.json", "application/json")
    with tempfile.TemporaryDirectory(prefix="freehold-") as tmp:
        out = Path(tmp) / "export"
        markdown_export.write(archive, [conv], out)
        notes = [p for p in out.rglob("*") if p.is_file() and _exported(p.name)]
        note = next(p for p in notes if p.parent == out and p.suffix == ".md")
        if len(notes) == 1:
            return _attachment_response(note.read_bytes(), note.name, "text/markdown")
        return _attachment_response(_zip(out, notes), note.stem + ".zip", "application/zip")


def _exported(name: str) -> bool:
    """A note or attachment, not the exporter's index or its listing (``.freehold-files``)."""
    return name != markdown_export.INDEX and not name.startswith(".")


def _zip(root: Path, files: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _attachment_response(body: bytes, name: str, mime: str) -> Response:
    disposition = f'attachment; filename="{name}"'
    return Response(body, media_type=mime, headers={"content-disposition": disposition})


def attachment(request: Request) -> Response:
    sha = request.path_params["sha"]
    info = _archive(request).attachment(sha) if _SHA.fullmatch(sha) else None
    if info is None:
        raise NotFoundError(f"no attachment {sha[:80]!r}")
    path = _archive(request).blob_path(sha)
    if not path.is_file():
        raise NotFoundError(f"attachment {sha} is listed but its file is missing")
    if info.mime in RASTER:
        return FileResponse(path, media_type=info.mime, headers={"cache-control": "private"})
    extension = RASTER.get(info.mime or "", ".bin")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=f"attachment-{sha[:12]}{extension}",
        content_disposition_type="attachment",
    )


def source(request: Request) -> Response:
    wanted = request.path_params["sid"]
    found = [s for s in _archive(request).sources() if s["id"] == wanted]
    if not found:
        raise NotFoundError(f"no import number {wanted}")
    return page(request, "source.html", {"source": found[0], "report": found[0]["report"]})


def import_form(request: Request, error: str | None = None, status: int = 200) -> Response:
    jobs = request.app.state.jobs
    context = {"error": error, "jobs": list(jobs.jobs.values())[::-1]}
    return page(request, "import.html", context, status_code=status)


async def import_upload(request: Request) -> Response:
    jobs = request.app.state.jobs
    try:
        job = await jobs.receive(request.headers.get("content-type", ""), request.stream())
    except UploadError as error:
        return import_form(request, str(error), 400)
    except FreeholdError as error:  # another import is running
        return import_form(request, str(error), 409)
    except ClientDisconnect:  # hung up, or silent past the idle timeout: nothing was kept
        return Response(status_code=400)  # nobody is left to read it
    return RedirectResponse(f"/import/jobs/{job.id}", status_code=303)


def import_job(request: Request) -> Response:
    job = request.app.state.jobs.get(request.path_params["job"])
    if job is None:
        raise NotFoundError("no such import in this session")
    template = "_job.html" if request.headers.get("hx-request") else "job.html"
    job = job.snapshot()  # the import thread may finish while the page is rendered
    return page(request, template, {"job": job, "report": job.report})


def exit_plan(request: Request) -> Response:
    """The exit plan, read only (``freehold exits`` changes it): what is overdue, what is open."""
    found = exits.status(_archive(request))
    context = {
        "plan": found,
        "overdue": sum(state.overdue for state in found),
        "catalogue": exits.catalogue(),
        "categories": exits.CATEGORIES,
    }
    return page(request, "exits.html", context)


def language(request: Request) -> Response:
    code = request.path_params["code"]
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    response = RedirectResponse(target, status_code=303)
    if code in ("en", "fr"):
        response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="strict")
    return response
