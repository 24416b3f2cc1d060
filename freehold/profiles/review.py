"""Before a profile leaves the machine: its likely secrets and personal data, and the
person's decision on each (keep or strike).

``review(profile)`` scans the body and every value (and key) of the front matter — a
Markdown or JSON export carries both — (``freehold.secrets``; a value as the line ``key:
value`` it is written as, so a ``password:`` is known by its key) and pairs each finding with the
decision recorded for it in ``review.json`` (store.py), by fingerprint: a decision holds for
the same text in any later version, so a person who kept their own e-mail address once is not
asked again. ``Review.outgoing()`` is the profile as it may leave: struck findings replaced by
``[struck: e-mail address]``, in the body and in the front matter alike. A finding nobody
decided on blocks it (``PendingError``): the caller asks, or takes ``--yes`` (keep) /
``--strike-all`` for this run only (a command that has them says so in its error:
``PendingError``'s own advice is true for every caller).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from freehold import secrets
from freehold._words import plural
from freehold.errors import FreeholdError
from freehold.profiles import store
from freehold.profiles.document import Profile

__all__ = ["DECISIONS", "PendingError", "Review", "review"]

DECISIONS = ("keep", "strike")


class PendingError(FreeholdError):
    """Findings nobody decided on: the profile may not leave yet."""


@dataclass(slots=True)
class Review:
    profile: Profile
    findings: list[secrets.Finding]  # in the body, then those in the front matter
    decided: dict[str, str] = field(default_factory=dict)
    front: list[secrets.Finding] = field(default_factory=list)  # in the front matter
    region: str | None = None

    def in_front(self, finding: secrets.Finding) -> bool:
        """Whether ``finding`` is in the front matter (its place is in one value there)."""
        return any(finding is other for other in self.front)

    @property
    def pending(self) -> list[secrets.Finding]:
        return [f for f in self.findings if f.fingerprint not in self.decided]

    @property
    def struck(self) -> list[secrets.Finding]:
        return [f for f in self.findings if self.decided.get(f.fingerprint) == "strike"]

    def decide(self, finding: secrets.Finding, decision: str, *, keep_record: bool) -> None:
        """``keep_record``: write it to review.json (a person's answer), not for one run."""
        if decision not in DECISIONS:
            raise ValueError(decision)
        self.decided[finding.fingerprint] = decision
        if keep_record:
            record = {
                "decision": decision,
                "kind": finding.kind,
                "masked": finding.masked,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            store.remember(self.profile.name, {finding.fingerprint: record})

    def decide_all(self, decision: str) -> None:
        """``--yes`` / ``--strike-all``: every pending finding, for this run only."""
        for finding in self.pending:
            self.decide(finding, decision, keep_record=False)

    def outgoing(self) -> Profile:
        """The profile as it may leave (struck text replaced); refuses while any is pending."""
        if self.pending:
            what = ", ".join(sorted({f.label for f in self.pending}))
            raise PendingError(
                f"profile {self.profile.name!r} (version {self.profile.version}) holds "
                f"{plural(len(self.pending), 'flagged item')} (likely secrets or personal data) "
                f"not reviewed ({what}) — run `freehold profile export {self.profile.name}` "
                "on a terminal to keep or strike each (your answers are remembered)"
            )
        in_body = [f for f in self.struck if not self.in_front(f)]
        body = secrets.strike(self.profile.body, in_body)
        struck = {f.fingerprint for f in self.struck}
        meta = _struck(self.profile.meta, struck, self.region) if struck else self.profile.meta
        return replace(self.profile, body=body, meta=meta)


def _found(value: Any, region: str | None, key: object = None) -> Iterator[secrets.Finding]:
    """The findings in every key and value of the front matter (``_in_value``)."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _found(name, region)
            yield from _found(item, region, name)
    elif isinstance(value, list):
        for item in value:
            yield from _found(item, region, key)
    elif value is not None and not isinstance(value, bool):
        yield from _in_value(str(value), key, region)


def _struck(value: Any, struck: set[str], region: str | None, key: object = None) -> Any:
    """The front matter with each struck finding replaced, found again as ``_found`` finds it
    (a secret struck in the body is struck here too: the same text, the same fingerprint)."""
    if isinstance(value, dict):
        return {
            _struck(name, struck, region): _struck(item, struck, region, name)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [_struck(item, struck, region, key) for item in value]
    if value is None or isinstance(value, bool):
        return value
    text = str(value)  # a phone number may be a YAML int
    chosen = [f for f in _in_value(text, key, region) if f.fingerprint in struck]
    return secrets.strike(text, chosen) if chosen else value


def _in_value(text: str, key: object, region: str | None) -> list[secrets.Finding]:
    """The findings in one value, scanned as the line ``key: value`` it is written as — the
    keyword detector knows a secret by its key (``password: …``) — and kept in the value's
    span, with offsets into the value (a finding that starts in the key is cut to the value)."""
    prefix = "" if key is None else f"{key}: "
    found = []
    for finding in secrets.scan(prefix + text, region=region):
        if finding.end <= len(prefix):
            continue  # the key alone: found when the key is scanned as itself
        start, end = max(finding.start - len(prefix), 0), finding.end - len(prefix)
        found.append(replace(finding, start=start, end=end, text=text[start:end]))
    return found


def review(profile: Profile, *, region: str | None = None) -> Review:
    front = list(_found(profile.meta, region))
    found = secrets.scan(profile.body, region=region) + front
    recorded = store.decisions(profile.name)
    decided = {
        f.fingerprint: str(recorded[f.fingerprint].get("decision"))
        for f in found
        if f.fingerprint in recorded and recorded[f.fingerprint].get("decision") in DECISIONS
    }
    return Review(profile, found, decided, front, region)
