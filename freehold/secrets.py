"""Likely secrets and personal data in a text that is about to leave the machine.

``scan(text)`` returns ``Finding`` objects (what, where, the matched text), ordered and never
overlapping; ``strike(text, findings)`` replaces the chosen ones with ``[struck: e-mail
address]``. The person decides what to keep and what to strike (``profiles`` remembers each
decision by the finding's ``fingerprint``, never by the text).

Maintained detectors do the work, each for what it was made for:

- keys and tokens: every regex detector of Yelp's detect-secrets (AWS, GitHub, GitLab, Slack,
  Stripe, JWT, private keys, …) and its keyword detector (``password: …``, ``api_key = …``),
  plus the AI vendors' key formats detect-secrets 1.5 predates (Anthropic ``sk-ant-``, OpenAI
  ``sk-proj-``, Google ``AIza``, Hugging Face ``hf_``, Groq, xAI, Replicate, Perplexity, GitHub's
  fine-grained ``github_pat_``, npm's ``npm_``) and ``Bearer`` tokens. Its entropy detectors
  are left out: they flag every hash and UUID;
- e-mail addresses: a loose pattern proposes, email-validator decides (syntax only, no DNS);
- phone numbers: Google's libphonenumber (``phonenumbers``), numbers valid for the person's
  region (from the locale, else US) and every number written in international form;
- postal addresses: pyap2, for the US, Canada and the UK (the formats it knows; an address
  elsewhere is not found — docs/profiles.md says so).

When two findings overlap, the worse kind to lose wins (the order of ``KINDS``: a key before
an address), then the longer. A private key is struck whole, from its BEGIN line to its END line.
"""

from __future__ import annotations

import hashlib
import locale
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

import phonenumbers
import pyap
import pyap.source_CA.data as pyap_ca
import pyap.source_GB.data as pyap_gb
import pyap.source_US.data as pyap_us

if TYPE_CHECKING:
    from detect_secrets.plugins.base import RegexBasedDetector

__all__ = ["KINDS", "Finding", "default_region", "scan", "strike"]

KINDS = {
    "key": "API key or token",
    "password": "password or secret",
    "private_key": "private key",
    "email": "e-mail address",
    "phone": "phone number",
    "address": "postal address",
}

# detect-secrets detectors left out: a public IPv4 address is not a credential, and version
# strings such as 10.2.0.1 look like one.
_SKIPPED = {"Public IP (ipv4)"}
_VENDOR_KEYS = re.compile(
    r"\b(?:sk-ant-[A-Za-z0-9_-]{20,}"
    r"|sk-(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|hf_[A-Za-z0-9]{30,}"
    r"|gsk_[A-Za-z0-9]{40,}"
    r"|xai-[A-Za-z0-9]{40,}"
    r"|r8_[A-Za-z0-9]{30,}"
    r"|pplx-[A-Za-z0-9]{40,}"
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|npm_[A-Za-z0-9]{36})"
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{16,}"
)
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-=+/.]*")
_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_FILE_SUFFIXES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "ico"}  # icon@2x.png
_PRIVATE_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----")
_ADDRESS_COUNTRIES: tuple[Literal["US", "CA", "GB"], ...] = ("US", "CA", "GB")
_REACH = 400  # characters an address may span before what ends it
# What pyap2's normalising made of the text, as a pattern for what it was
_SAME = {", ": r"[ \t]*(?:,[ \t]*)+", " ": r"[ \t]+", "-": "[-\u2010-\u2015]"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One likely secret or piece of personal data: ``text[start:end]`` of the scanned text."""

    kind: str
    detector: str
    start: int
    end: int
    text: str

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def fingerprint(self) -> str:
        """Names the finding without holding it: the same text found again is the same."""
        return hashlib.sha256(f"{self.kind}\x00{self.text}".encode()).hexdigest()[:16]

    @property
    def masked(self) -> str:
        """The text with its middle hidden, for a screen that someone else may see."""
        flat = " ".join(self.text.split())
        if len(flat) <= 6:
            return flat[0] + "…" if flat else ""
        keep = max(2, min(6, len(flat) // 5))
        return f"{flat[:keep]}…{flat[-keep:]}"


def default_region() -> str:
    """The person's country for phone numbers written without +: the locale's, else US."""
    for name in ("LC_ALL", "LC_TELEPHONE", "LANG"):
        found = re.match(r"[a-z]{2,3}_([A-Z]{2})", os.environ.get(name, ""))
        if found:
            return found.group(1)
    code = (locale.getlocale()[0] or "").partition("_")[2][:2]
    return code if re.fullmatch(r"[A-Z]{2}", code) else "US"


def scan(text: str, *, region: str | None = None) -> list[Finding]:
    """Every likely secret and piece of personal data in ``text``, in order, none overlapping."""
    found = [
        *_keys(text),
        *_keywords(text),
        *_emails(text),
        *_phones(text, region or default_region()),
        *_addresses(text),
    ]
    return _without_overlaps(found)


def strike(text: str, findings: list[Finding]) -> str:
    """``text`` with each finding replaced by ``[struck: <what it was>]``."""
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        text = f"{text[: finding.start]}[struck: {finding.label}]{text[finding.end :]}"
    return text


# -- detectors ---------------------------------------------------------------------------------


@cache
def _regex_detectors() -> list[RegexBasedDetector]:
    # detect-secrets and email-validator are imported on first use: together they cost
    # ~0.4 s, which every other freehold command would pay at start.
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    mapping: dict[str, type] = get_mapping_from_secret_type_to_class()
    return [
        plugin()
        for name, plugin in sorted(mapping.items())
        if name not in _SKIPPED and issubclass(plugin, RegexBasedDetector)
    ]


def _keys(text: str) -> Iterator[Finding]:
    for detector in _regex_detectors():
        name = str(detector.secret_type)
        for pattern in detector.denylist:
            for match in pattern.finditer(text):
                start, end = match.span()
                if name == "Private Key":
                    yield _private_key(text, start, end)
                elif end > start:
                    end = _token_end(text, end)
                    yield Finding("key", name, start, end, text[start:end])
    for match in _VENDOR_KEYS.finditer(text):
        yield Finding("key", "AI vendor key", match.start(), match.end(), match.group())


def _token_end(text: str, end: int) -> int:
    """Some patterns stop early (the JWT one ends lazily before the signature): a key runs
    to the end of its token, less a full stop that ends the sentence."""
    tail = _TOKEN_TAIL.match(text, end)
    stop = tail.end() if tail else end
    while stop > end and text[stop - 1] == ".":
        stop -= 1
    return stop


def _private_key(text: str, start: int, end: int) -> Finding:
    """From its ``-----BEGIN`` to its END line (or the end of the text when it was cut); not
    from the start of the line, which may hold another finding."""
    line = text.rfind("\n", 0, start) + 1
    dashes = text.rfind("-----BEGIN", line, end)
    begin = dashes if dashes != -1 else line
    closing = _PRIVATE_END.search(text, end)
    stop = closing.end() if closing else len(text)
    return Finding("private_key", "Private Key", begin, stop, text[begin:stop])


def _keywords(text: str) -> Iterator[Finding]:
    """``password: …``, ``api_key = '…'``: detect-secrets' keyword rules for YAML-like text
    (the way a profile writes them), the value alone being the finding."""
    from detect_secrets.plugins.keyword import KeywordDetector

    detector = KeywordDetector()
    offset = 0
    for line in text.splitlines(keepends=True):
        for secret in detector.analyze_line(filename="profile.yaml", line=line, line_number=0):
            value = (secret.secret_value or "").strip()
            at = line.find(value) if value else -1
            if at >= 0:
                yield Finding(
                    "password", "Secret Keyword", offset + at, offset + at + len(value), value
                )
        offset += len(line)


def _emails(text: str) -> Iterator[Finding]:
    from email_validator import EmailNotValidError, validate_email

    for match in _EMAIL.finditer(text):
        candidate = match.group().rstrip(".")
        if candidate.rsplit(".", 1)[-1].lower() in _FILE_SUFFIXES:
            continue
        try:
            validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            continue
        yield Finding(
            "email", "email-validator", match.start(), match.start() + len(candidate), candidate
        )


def _phones(text: str, region: str) -> Iterator[Finding]:
    leniency = phonenumbers.Leniency.VALID
    for where in dict.fromkeys((region, None)):
        for match in phonenumbers.PhoneNumberMatcher(text, where, leniency=leniency):
            yield Finding("phone", "phonenumbers", match.start, match.end, match.raw_string)


def _addresses(text: str) -> Iterator[Finding]:
    """pyap2 over the windows where an address of each country may end (``_windows``), not
    over the whole text: its patterns cost ~25 µs a character (a 2.2 MB profile took two
    minutes), while what ends an address is cheap to find."""
    for country in _ADDRESS_COUNTRIES:
        for start, end in _windows(text, _anchor(country)):
            window = text[start:end]
            for address in pyap.parse(window, country=country):
                found = address.as_dict()
                span = _located(window, str(found["full_address"]), int(found["match_start"]))
                if span is None:
                    continue
                first, last = start + span[0], start + span[1]
                if _plausible(text[first:last]):
                    yield Finding("address", f"pyap2 ({country})", first, last, text[first:last])


def _located(window: str, cleaned: str, near: int) -> tuple[int, int] | None:
    """Where pyap2's match is in ``window``: pyap2 matches a copy with runs of spaces, commas
    and dashes made one (its ``_normalize_string``), so its offsets drift after each run; the
    match is found again in the text as written, at or after where it said."""
    pieces = []
    for part in re.split(r"(, | |-)", cleaned):
        pieces.append(_SAME.get(part, re.escape(part)))
    found = re.compile("".join(pieces)).search(window, min(near, len(window)))
    return found.span() if found else None


@cache
def _anchor(country: str) -> re.Pattern[str]:
    """What ends a postal address of ``country``, as pyap2's own patterns write it: a UK
    postcode; a Canadian province; a US state, or a ZIP code after a comma or a state (pyap2
    also takes a ZIP after a bare space, "Springfield 62704": freehold does not look for those,
    so that numbers in prose do not make every line a place to look)."""
    flags = re.VERBOSE | re.UNICODE
    if country == "GB":
        return re.compile(pyap_gb.postal_code, flags)
    if country == "CA":
        return re.compile(rf"(?<![A-Za-z]){pyap_ca.region1}", flags)
    state = rf"(?<=[,\s]){pyap_us.make_region1()}(?![A-Za-z])"
    return re.compile(rf"{state}|,\s*{pyap_us.postal_code_re}", flags)


def _windows(text: str, anchor: re.Pattern[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` that may hold a whole address ending at an anchor: from the start of
    the line two lines above it (at most ``_REACH`` characters back) to the end of the line
    after it (a country may follow). Overlapping spans are joined."""
    spans: list[tuple[int, int]] = []
    for found in anchor.finditer(text):
        start = found.start()
        for _ in range(3):
            start = text.rfind("\n", 0, max(0, start - 1)) + 1
        start = max(start, found.start() - _REACH)
        after = text.find("\n", found.end())
        nxt = text.find("\n", after + 1) if after != -1 else -1
        end = len(text) if nxt == -1 else nxt
        end = min(end, found.end() + _REACH // 4)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _plausible(address: str) -> bool:
    """pyap2's UK rules also take a token soup for an address ("23456 and AKIA…"): a postal
    address has a few words, none a long run of letters and digits."""
    words = address.split()
    return len(words) >= 3 and not any(len(w) > 12 and re.search(r"\d", w) for w in words)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """Of two overlapping findings, the one of the kind listed first in ``KINDS`` wins (a key
    is worse to lose than an address), then the longer, then the earlier."""
    rank = {kind: number for number, kind in enumerate(KINDS)}
    chosen: list[Finding] = []
    for finding in sorted(found, key=lambda f: (rank[f.kind], -(f.end - f.start), f.start)):
        if all(finding.end <= c.start or finding.start >= c.end for c in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)
