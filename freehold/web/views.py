"""The web app's endpoints: each reads its parameters, asks the archive, renders a template.

Endpoints are plain functions (Starlette runs them in its thread pool, each thread with its own
archive connection); errors are raised as ``FreeholdError`` / ``NotFoundError`` /
``HTTPException`` and turned into pages in one place, ``app._error``. Parameters that reach
SQL are passed as values; the only path from a URL to the file system is an attachment's
SHA-256, which must be 64 hex digits *and* a row of the ``attachments`` table (and one fixed
file, docs/providers.md, when freehold runs from its source). Continue and Regenerate stream
the answer as NDJSON to the page's ``fetch`` (``turns.py``); a form posted without JavaScript
waits for the whole answer and is sent on to it.
"""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
import unicodedata
import zipfile
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from freehold import breaktest, exits, filters
from freehold.backup import status as backup_status
from freehold.errors import FreeholdError, NotFoundError
from freehold.exporters import json as json_export
from freehold.exporters import markdown as markdown_export
from freehold.exporters._folder import conversation_name
from freehold.models import ROLE_NAMES, Conversation, Message
from freehold.safehtml import RASTER, RUNNABLE
from freehold.web.failures import Answer, answer
from freehold.web.meaning import search_page as meaning_search
from freehold.web.render import composer_page, conversation_page, markdown_page, page
from freehold.web.turns import NDJSON, Ask

__all__ = [
    "attachment",
    "backups",
    "break_test",
    "composer",
    "content_disposition",
    "continue_turn",
    "conversation",
    "conversations",
    "download",
    "exit_plan",
    "home",
    "import_form",
    "import_job",
    "import_upload",
    "language",
    "providers_doc",
    "regenerate",
    "search",
    "source",
    "star",
    "stop_turn",
]

_SHA = re.compile(r"[0-9a-f]{64}")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9 ._()-]+")
_TRAILING = re.compile(r"[\s.]+$")
_ATTR_CHAR = "!#$&+-.^_`|~"  # RFC 5987 attr-char beside letters and digits: sent as they are
_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only: "²".isdigit() is true, int("²") fails
_PAGE_SIZE = 50
_HITS_PER_PAGE = 20
# Only from a source checkout (the README's `pip install -e .`); a wheel has no docs folder.
_PROVIDERS_DOC = Path(__file__).resolve().parents[2] / "docs" / "providers.md"


def _archive(request: Request) -> Any:
    return request.app.state.archives.get()


def _text(request: Request, name: str, limit: int = 200) -> str | None:
    """A text parameter, None when empty; over ``limit`` characters, refused (400): cut, a
    query or a filter would silently ask for something else."""
    value = request.query_params.get(name, "").strip()
    if len(value) > limit:
        what = "the search" if name == "q" else name
        raise HTTPException(
            400, f"{what} is {len(value)} characters long; at most {limit} — shorten it"
        )
    return value or None


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

    last = filters.last_page(total, size)
    return {
        "number": number,
        "last": last,
        "previous": url(number - 1) if number > 1 else None,
        "next": url(number + 1) if number < last else None,
    }


def _filters(request: Request, *names: str) -> dict[str, Any]:
    """The filters ``names`` of a list or a search, checked as the CLI checks its options
    (``freehold.filters``): a value no option would take is a 400 with the CLI's line."""
    found: dict[str, Any] = {name: _text(request, name) for name in names}
    for name, check in _CHECKS.items():
        if found.get(name) is not None:
            found[name] = check(found[name])
    filters.check_period(found.get("since"), found.get("until"))
    return found


_CHECKS = {
    "source": filters.check_source,
    "role": filters.check_role,
    "since": filters.check_date,
    "until": filters.check_date,
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
    chosen = _filters(request, "source", "model", "since", "until")
    chosen.update({flag: _flag(request, flag) for flag in ("branched", "starred", "gone")})
    listing = archive.conversation_rows(
        **chosen, limit=_PAGE_SIZE, offset=(number - 1) * _PAGE_SIZE
    )
    filters.check_page(number, listing.total, _PAGE_SIZE)
    context = {
        "listing": listing,
        "filters": chosen,
        "kinds": sorted(archive.kinds()),
        "models": archive.models(),
        "pager": _pager(request, number, listing.total, _PAGE_SIZE),
    }
    return page(request, "conversations.html", context)


def search(request: Request) -> Response:
    archive = _archive(request)
    query = _text(request, "q", 500)
    chosen = _filters(request, "source", "model", "role", "since", "until")
    number = _page_number(request)
    meaning = _flag(request, "meaning")
    result = None
    if query:
        offset = (number - 1) * _HITS_PER_PAGE
        find = partial(meaning_search, archive) if meaning else archive.search_page
        result = find(query, **chosen, limit=_HITS_PER_PAGE, offset=offset)
        filters.check_page(number, result.total, _HITS_PER_PAGE)
    context: dict[str, Any] = {
        "query": query or "",
        "meaning": meaning,
        "filters": chosen,
        "result": result,
        "roles": filters.ROLES,
        "role_names": ROLE_NAMES,  # each role as a reader calls it, translated in the page
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
    at = _at(request, required=False)
    if at is not None:
        _message(conv, at)  # a link to a message elsewhere is a dead link, not this page
    return conversation_page(request, conv, at)


def _message(conv: Conversation, at: int) -> Message:
    """Message ``at`` of ``conv``; NotFoundError (404) when it holds none of that number."""
    message = next((m for m in conv.messages if m.id == at), None)
    if message is None:
        raise NotFoundError(f"no message {at} in conversation {conv.id}")
    return message


def _at(request: Request, *, required: bool) -> int | None:
    raw_at = request.query_params.get("at", "")
    if (raw_at or required) and not _NUMBER.fullmatch(raw_at):
        raise HTTPException(400, "at must be a message number")
    return int(raw_at) if raw_at else None


def composer(request: Request) -> Response:
    """The composer under a message: a model/route picker and, to continue, the prompt."""
    conv = _archive(request).get_conversation(request.path_params["cid"])
    message = _message(conv, _at(request, required=True) or 0)
    again = request.url.path.endswith("/regenerate")
    return composer_page(request, conv, message, again=again)


async def continue_turn(request: Request) -> Response:
    return await _turn(request, again=False)


async def regenerate(request: Request) -> Response:
    return await _turn(request, again=True)


async def _turn(request: Request, *, again: bool) -> Response:
    """Store the prompt and stream the answer (``turns.py``); without JavaScript, wait for
    the answer and go to it."""
    async with request.form() as form:
        ask = Ask.read(request.path_params["cid"], form, again=again)
    loop = asyncio.get_running_loop()
    turn = await run_in_threadpool(request.app.state.turns.start, ask, loop)
    if NDJSON in request.headers.get("accept", ""):
        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(turn.lines(), media_type=NDJSON, headers=headers)
    last = await turn.outcome()
    if last["event"] != "done":
        raise HTTPException(500, last["message"])
    return RedirectResponse(last["url"], status_code=303)


def stop_turn(request: Request) -> Response:
    request.app.state.turns.stop(request.path_params["turn"])
    return Response(status_code=204)


def providers_doc(request: Request) -> Response:
    try:
        text = _PROVIDERS_DOC.read_text(encoding="utf-8")
    except OSError as error:
        raise NotFoundError(
            "docs/providers.md comes with freehold's source, beside the freehold folder; "
            "read it there (this copy was installed without it)"
        ) from error
    return markdown_page(request, "providers.md", text)


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
    if fmt == "json":  # named as the Markdown note is: date, title, id
        body = json_export.dumps(json_export.conversation_record(archive, conv))
        name = conversation_name(conv, set(), ".json")
        return _attachment_response(body, name, "application/json")
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
    return Response(
        body, media_type=mime, headers={"content-disposition": content_disposition(name)}
    )


def content_disposition(name: str) -> str:
    """``attachment`` named ``name``, for every download: an ASCII ``filename`` any client reads,
    then, when that is not the whole name, the name itself as ``filename*`` (RFC 6266 and 5987:
    UTF-8, percent-encoded), which every current browser prefers. The header stays ASCII, as
    HTTP needs; no character of the name can end the value or the header."""
    fallback = _ascii_name(name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    encoded = quote(name, safe=_ATTR_CHAR)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _ascii_name(name: str) -> str:
    """``name`` in plain ASCII for the quoted ``filename``: accents dropped (NFKD), anything
    else that is not a letter, digit, space or ``._-()`` a ``_``. RFC 6266 (appendix D) advises
    against ``%``, ``\\`` and non-ASCII there; ``"`` would end the value. An empty stem
    becomes ``download``."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    plain = _NOT_PLAIN.sub("_", plain)
    stem, dot, suffix = plain.rpartition(".")
    if not dot:
        stem, suffix = plain, ""
    return (stem.strip(" ._-") or "download") + (f".{suffix}" if suffix else "")


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
    name = content_disposition(_download_name(info.name, sha))
    return FileResponse(
        path, media_type="application/octet-stream", headers={"content-disposition": name}
    )


def _download_name(name: str | None, sha: str) -> str:
    """An attachment's download name: the name it came with (``content_disposition`` makes
    any name safe to send), as a browser saves it (``_as_saved``), but ``.bin`` for a type a
    browser would run (``RUNNABLE``), judged on both names sent: that one and its ASCII form
    (``_ascii_name``, which drops accents: ``.htmĺ`` is ``.html`` there)."""
    saved = _as_saved(PurePosixPath(name or "").name)
    stem, dot, suffix = saved.rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    if not stem.strip(" ."):
        stem = f"attachment-{sha[:12]}"
    plain = _ascii_name(f"x.{suffix}").rpartition(".")[2]
    if not suffix or {f".{suffix.lower()}", f".{plain.lower()}"} & RUNNABLE:
        suffix = "bin"
    return f"{stem}.{suffix}"


def _as_saved(name: str) -> str:
    """``name`` as a browser or a file system keeps it: compatibility forms folded (NFKC:
    ``ｈｔｍｌ`` is ``html``), format characters (zero-width, bidi marks) dropped, trailing
    spaces and dots trimmed."""
    folded = unicodedata.normalize("NFKC", name)
    return _TRAILING.sub("", "".join(c for c in folded if unicodedata.category(c) != "Cf"))


def source(request: Request) -> Response:
    wanted = request.path_params["sid"]
    found = [s for s in _archive(request).sources() if s["id"] == wanted]
    if not found:
        raise NotFoundError(f"no import number {wanted}")
    return page(request, "source.html", {"source": found[0], "report": found[0]["report"]})


def import_form(request: Request, refused: Answer | None = None) -> Response:
    """The import page; ``refused``: why the upload just sent was not imported."""
    jobs = request.app.state.jobs
    context = {
        "error": refused.text if refused else None,
        "jobs": list(jobs.jobs.values())[::-1],
        "read_only": _archive(request).read_only,
    }
    if refused is None:
        return page(request, "import.html", context)
    return page(request, "import.html", context, refused.status, refused.headers)


async def import_upload(request: Request) -> Response:
    jobs = request.app.state.jobs
    try:
        job = await jobs.receive(request.headers.get("content-type", ""), request.stream())
    except FreeholdError as error:  # not an upload, another import runs, the disk refused…
        return import_form(request, answer(error))  # shown on the form, with its status
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


def backups(request: Request) -> Response:
    """The backups' status, read only (``freehold backup`` changes it): what
    ``freehold backup status`` says — per destination the last run, verify and drill, and
    whether the set meets 3-2-1 — from this machine's records, with no network."""
    found = backup_status.status(request.app.state.archives.home)
    return page(request, "backups.html", {"status": found, "max_age": backup_status.MAX_AGE})


def break_test(request: Request) -> Response:
    """The last break test, read only (``freehold break-test`` runs one): what survived the
    loss of each provider and each backup destination, from the result it kept."""
    found = breaktest.last(request.app.state.archives.home)
    return page(request, "breaktest.html", {"result": found})


def language(request: Request) -> Response:
    code = request.path_params["code"]
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    response = RedirectResponse(target, status_code=303)
    if code in ("en", "fr"):
        response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="strict")
    return response
