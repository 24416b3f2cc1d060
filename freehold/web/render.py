"""Templates and the conversation page's HTML.

Jinja2 autoescapes everything a template prints. The only HTML that reaches a template
unescaped (``|safe``) is what ``freehold.safehtml`` made from a message — Markdown with raw
HTML off, cleaned by nh3 — so that module is the one place to review for injection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from freehold.errors import FreeholdError
from freehold.models import CONTEXT_KINDS, REVISION_LABEL, Conversation, Message, context_label
from freehold.report_labels import lines as report_lines
from freehold.safehtml import highlight_code, one_line, render_markdown
from freehold.web.i18n import choose, counter, translator
from freehold.web.thread import Step, choose_path
from freehold.web.turns import picker

__all__ = [
    "CONTEXT_KINDS",
    "TEMPLATES",
    "composer_page",
    "conversation_page",
    "markdown_page",
    "page",
]

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def _day(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d") if epoch is not None else ""


def _size(size: int | None) -> str:
    value = float(size or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return ""


TEMPLATES.env.filters.update(when=_when, day=_day, size=_size, one_line=one_line)
TEMPLATES.env.filters["context_kind"] = context_label
TEMPLATES.env.globals["report_lines"] = report_lines  # _report.html: the terminal's words


def _language(request: Request) -> str:
    return choose(request.cookies.get("lang"), request.headers.get("accept-language"))


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A template rendered with what every page needs: language, CSRF token, current path."""
    language = _language(request)
    common = {
        "t": translator(language),
        "noun": counter(language),
        "lang": language,
        "csrf": request.scope.get("state", {}).get("csrf", ""),
        "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "sidebar": _sidebar(request),
    }
    response = TEMPLATES.TemplateResponse(
        request, name, {**common, **context}, status_code=status_code, headers=headers
    )
    response.headers["cache-control"] = "no-store"
    return response


def _sidebar(request: Request) -> list[Any]:
    """The most recently updated conversations, for the sidebar; none if the archive fails,
    and none on a page answered without the token (a 404 under ``/static/``)."""
    if not request.scope.get("state", {}).get("authorized"):
        return []
    try:
        return list(request.app.state.archives.get().conversation_rows(limit=30, count=False).rows)
    except FreeholdError:
        return []


def conversation_page(request: Request, conv: Conversation, at: int | None) -> Response:
    """The page of one conversation along the chosen path (see ``thread.choose_path``)."""
    language = _language(request)
    t = translator(language)
    path = choose_path(conv.messages, at)
    shown = [step.message for step in path]
    earlier = [revision for step in path for revision in step.revisions]
    bodies = request.app.state.renderers.bodies(shown + earlier, language)
    earlier_html = iter(bodies[len(shown) :])
    steps = [
        {
            "message": step.message,
            "fork": step.fork,
            "again": step.again and step.message.revision_of is None,
            "more": step.more,
            "passes": step.passes,
            "label": _step_label(step.message, t),
            "html": Markup(html),
            "revisions": [_revision(r, step, next(earlier_html), t) for r in step.revisions],
        }
        for step, html in zip(path, bodies[: len(shown)], strict=True)
    ]
    context = {
        "conv": conv,
        "steps": steps,
        "branches": sum(1 for s in steps if s["fork"] is not None),
        "context_records": conv.context,
    }
    return page(request, "conversation.html", context)


def _revision(revision: Message, step: Step, html: str, t: Callable[[str], str]) -> dict[str, Any]:
    """An earlier version of ``step``'s message, shown folded after it (open when asked for)."""
    label = _step_label(revision, t)
    return {
        "message": revision,
        "label": label,
        "html": Markup(html),
        "open": revision.id == step.opened,
    }


def _step_label(message: Message, t: Callable[[str], str]) -> str:
    """Who speaks, after ``REVISION_LABEL`` for an earlier version of a message."""
    if message.revision_of is None:
        return message.label(t)
    return f"{t(REVISION_LABEL)} · {message.label(t)}"


def composer_page(
    request: Request, conv: Conversation, message: Message, *, again: bool
) -> Response:
    """The composer under ``message`` (Continue from here, or Regenerate when ``again``): a
    fragment for the page's htmx request, a whole page otherwise (no JavaScript)."""
    context = {
        "conv": conv,
        "message": message,
        "label": message.label(translator(_language(request))),
        "again": again,
        "picker": picker(request.app.state.archives.home),
    }
    whole = not request.headers.get("hx-request")
    return page(request, "compose.html" if whole else "_composer.html", context)


def markdown_page(request: Request, title: str, text: str) -> Response:
    """A Markdown document of freehold's own (docs/providers.md), rendered as messages are."""
    html = Markup(render_markdown(text, highlight_code))  # safehtml made it: escaped, cleaned
    return page(request, "document.html", {"title": title, "html": html})
