"""The rules a selection's filters obey, for every reader that takes them.

``freehold search``, ``export`` (their options, ``cli/_base.py``) and the web app's list and
search pages (their parameters, ``web/views.py``) check a filter here, so each refuses the same
thing with the same line: a source kind no importer registers, a role no message has, a date
that is not one, a period that ends before it starts, a page past the last. Each raises a
``FreeholdError`` (``NotFoundError`` for a page): the CLI makes it a usage error (exit 2), the
web app a 400 (a 404) page (``web/failures.py``). A check returns the value as the archive
takes it (a source kind in lower case).
"""

from __future__ import annotations

from freehold import plugins
from freehold._queries import parse_when
from freehold.errors import FreeholdError, NotFoundError

__all__ = [
    "ROLES",
    "check_date",
    "check_page",
    "check_period",
    "check_role",
    "check_source",
    "last_page",
]

ROLES = ("user", "assistant", "system", "tool")


def check_source(kind: str) -> str:
    """A registered importer's kind, in any case."""
    return _one_of("source kind", kind, sorted(plugins.importers()))


def check_role(role: str) -> str:
    return _one_of("role", role, list(ROLES))


def _one_of(noun: str, value: str, known: list[str]) -> str:
    if value.lower() not in known:
        raise FreeholdError(f"unknown {noun} {value!r}; choose one of: {', '.join(known)}")
    return value.lower()


def check_date(text: str) -> str:
    """A date ``--since``/``--until`` take (``parse_when``), as given."""
    parse_when(text)
    return text


def check_period(since: str | None, until: str | None) -> None:
    """A period that ends before it starts matches nothing: said, not answered with nothing."""
    if since and until and parse_when(since) >= parse_when(until, end=True):
        raise FreeholdError(f"--since {since} is after --until {until}: nothing can match")


def check_page(number: int, total: int, size: int) -> None:
    """Page ``number`` of ``total`` items, ``size`` a page: past the last is not there (page 1
    always is, the page that says nothing matches)."""
    last = last_page(total, size)
    if number > last:
        raise NotFoundError(f"no page {number}: the last is {last}")


def last_page(total: int, size: int) -> int:
    """The number of the last page of ``total`` items, ``size`` a page: 1 when there are none."""
    return max(1, -(-total // size))
