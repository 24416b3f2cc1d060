"""A profile in each export format: ``markdown`` (the file itself), ``json`` (every part,
machine-readable) and ``chatgpt`` / ``claude`` / ``gemini`` (text to paste into that platform's
custom-instruction fields, each within its limit; ``platforms.py``).

Every format is made from the profile as it may leave (``review.Review.outgoing``), so what
was struck is struck everywhere. ``Exported.cuts`` lists what a field could not hold.

``markdown`` and ``json`` come back: ``profile edit --from`` keeps a Markdown export as it is,
and ``imported`` rebuilds the profile a JSON export holds (its ``system`` text under its
``front_matter``; the sections, notes and fields are made from them again) — a JSON object
is freehold's export when it has all four of ``name``, ``version``, ``system`` and
``front_matter``; any other text, JSON or not, is a profile file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from freehold.errors import FreeholdError
from freehold.profiles.document import Profile, render
from freehold.profiles.platforms import FIELDS, PLATFORMS, Cut, Filled, fill

__all__ = ["FORMATS", "Exported", "export", "imported"]

FORMATS = ("markdown", "json", *PLATFORMS)
_EXPORT_KEYS = frozenset({"name", "version", "system", "front_matter"})


@dataclass(slots=True)
class Exported:
    text: str
    cuts: list[Cut] = field(default_factory=list)
    fields: list[Filled] = field(default_factory=list)


def export(profile: Profile, fmt: str, *, struck: int = 0) -> Exported:
    """``profile`` in ``fmt``; ``struck`` (how many findings were struck) is said in JSON."""
    if fmt == "markdown":
        return Exported(render(profile))
    if fmt == "json":
        return Exported(_json(profile, struck))
    filled = fill(profile, fmt)
    return Exported(_paste(fmt, filled), [c for f in filled for c in f.cuts], filled)


def _json(profile: Profile, struck: int) -> str:
    value: dict[str, Any] = {
        "name": profile.name,
        "version": profile.version,
        "saved": profile.saved,
        "system": profile.system,
        "sections": [{"title": s.title, "kind": s.kind, "text": s.text} for s in profile.sections],
        "memory": [
            {"date": n.date, "text": n.text}
            for s in profile.sections
            if s.kind == "memory"
            for n in s.notes
        ],
        "front_matter": profile.meta,
        "struck": struck,
        "fields": {p: [_field_json(f) for f in fill(profile, p)] for p in PLATFORMS},
    }
    # YAML allows keys JSON does not (`1: x`, dates): the front matter's become strings
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, option=option, default=str).decode() + "\n"


def imported(text: str, *, name: str, where: str) -> Profile | None:
    """The profile a freehold JSON export (``_json``) holds, as profile ``name``; None when
    ``text`` is not one. One whose ``system`` is not text or ``front_matter`` not an object
    is refused (``where`` names it)."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not value.keys() >= _EXPORT_KEYS:
        return None
    system, meta = value["system"], value["front_matter"]
    if not isinstance(system, str) or not isinstance(meta, dict | None):
        raise FreeholdError(
            f"{where}: a freehold JSON export of a profile whose 'system' is not text or "
            "'front_matter' not an object — export it again, or keep the Markdown export "
            "(`freehold profile export NAME --format markdown`)"
        )
    return Profile(name, 0, system, dict(meta or {}))


def _field_json(filled: Filled) -> dict[str, Any]:
    return {
        "key": filled.spec.key,
        "label": filled.spec.label,
        "limit": filled.spec.limit,
        "limit_documented": filled.spec.documented,
        "length": filled.length,
        "text": filled.text,
        "cut": [{"what": c.what, "chars": c.chars} for c in filled.cuts],
    }


def _paste(platform: str, filled: list[Filled]) -> str:
    """Plain text: a line naming each field, its length and limit, then its text."""
    where = next(f.where for f in FIELDS if f.platform == platform)
    blocks = [f"{platform} — {where}"]
    for item in filled:
        documented = "documented" if item.spec.documented else "not documented, assumed"
        blocks.append(
            f"=== {item.spec.label} — {item.length:,} of {item.spec.limit:,} characters "
            f"(limit {documented}) ===\n{item.text}\n=== end ==="
        )
    return "\n\n".join(blocks) + "\n"
