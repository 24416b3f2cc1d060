"""Before a profile leaves the machine: its likely secrets and personal data, and the
person's decision on each (keep or strike).

``review(profile)`` scans the body (``freehold.secrets``) and pairs each finding with the
decision recorded for it in ``review.json`` (store.py), by fingerprint: a decision holds for
the same text in any later version, so a person who kept their own e-mail address once is not
asked again. ``Review.outgoing()`` is the profile as it may leave: struck findings replaced by
``[struck: e-mail address]``. A finding nobody decided on blocks it (``PendingError``): the
caller asks, or takes ``--yes`` (keep) / ``--strike-all`` for this run only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

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
    findings: list[secrets.Finding]
    decided: dict[str, str] = field(default_factory=dict)

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
                f"not reviewed ({what}) — "
                f"run `freehold profile apply {self.profile.name}` or `freehold profile export "
                f"{self.profile.name}` on a terminal to keep or strike each, or pass --yes "
                "(keep all) or --strike-all there"
            )
        body = secrets.strike(self.profile.body, self.struck)
        return replace(self.profile, body=body)


def review(profile: Profile, *, region: str | None = None) -> Review:
    found = secrets.scan(profile.body, region=region)
    recorded = store.decisions(profile.name)
    decided = {
        f.fingerprint: str(recorded[f.fingerprint].get("decision"))
        for f in found
        if f.fingerprint in recorded and recorded[f.fingerprint].get("decision") in DECISIONS
    }
    return Review(profile, found, decided)
