"""The flagger (freehold/secrets.py) on a corpus of real-looking secrets and personal data,
and of look-alikes that must pass (hashes, UUIDs, version strings, dates, ordinary numbers):
precision and recall are asserted, and every miss and false alarm is named on failure.

Every key here is made by a seeded generator in the vendor's format (prefix, length,
alphabet): none is a real credential, and none is written out in the repository."""

from __future__ import annotations

import itertools
import random
import string
from typing import Any

import pyap
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freehold import secrets

_RNG = random.Random(13)
_ALNUM = string.ascii_letters + string.digits


def _chars(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def _hex(n: int) -> str:
    return _chars(n, "0123456789abcdef")


_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    + _chars(43, _ALNUM + "-_")
)
_PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(_chars(64) for _ in range(4))
_PEM += "\n-----END RSA PRIVATE KEY-----"

# (kind, the secret, the sentence it sits in: {} marks where)
SECRETS = [
    ("key", "AKIA" + _chars(16, string.ascii_uppercase + string.digits), "aws id {} in prod"),
    ("key", "ghp_" + _chars(36), "my GitHub token is {}"),
    ("key", "github_pat_" + _chars(22) + "_" + _chars(59), "fine-grained: {}"),
    ("key", "glpat-" + _chars(20), "GitLab: {}"),
    (
        "key",
        "xoxb-" + _chars(12, string.digits) + "-" + _chars(13, string.digits) + "-" + _chars(24),
        "slack bot {} ok",
    ),
    ("key", "sk_live_" + _chars(24), "stripe live key {}"),
    ("key", "sk-proj-" + _chars(48, _ALNUM + "_-") + "T3Blbk" + _chars(20), "OpenAI: {}"),
    ("key", "sk-ant-api03-" + _chars(93, _ALNUM + "_-") + "AA", "Claude key {} (work)"),
    ("key", "AIza" + _chars(35, _ALNUM + "_-"), "Gemini {}"),
    ("key", "hf_" + _chars(34, string.ascii_letters), "hugging face {}"),
    ("key", "gsk_" + _chars(52), "Groq {}"),
    ("key", _JWT, "session cookie {}"),
    ("key", "SG." + _chars(22, _ALNUM + "_-") + "." + _chars(43, _ALNUM + "_-"), "sendgrid {}"),
    ("key", "npm_" + _chars(36), "publish with {}"),
    ("key", "SK" + _hex(32), "twilio {}"),
    ("key", "Bearer " + _chars(40, _ALNUM + "._-"), "curl -H 'Authorization: {}'"),
    ("private_key", _PEM, "deploy key:\n{}\nthanks"),
    ("password", "Tulip42Rain!", "password: {}"),
    ("password", "b7Qx9zL2mVw4", "api_key = '{}'"),
    ("email", "sam.jones@example.org", "Write to {} for invoices."),
    ("email", "priya+ai@mail.example.co.uk", "my address is {}"),
    ("email", "j.doe@uni-example.edu", "({})"),
    ("email", "info@bakkerij-de-vries.nl", "Contact: {}."),
    ("phone", "(415) 555-0132", "Call me on {} after 6pm."),
    ("phone", "+44 20 7946 0958", "London office {}"),
    ("phone", "+31 6 12345678", "mobiel {}"),
    ("phone", "+49 30 901820", "Berlin: {}"),
    ("phone", "+33 1 44 55 66 77", "Paris {}."),
    ("address", "1600 Pennsylvania Avenue NW, Washington, DC 20500", "Ship it to {}."),
    ("address", "350 Fifth Avenue, New York, NY 10118", "Office: {}"),
    ("address", "221B Baker Street, London NW1 6XE", "I live at {}."),
    ("address", "100 Queen Street West, Toronto, Ontario M5H 2N2", "Send it to {}."),
]

LOOKALIKES = [
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 of the file",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    "git commit 60c7a60f3e8d2a9b1c4e5f60718293a4b5c6d7e8 fixed it",
    "request id 123e4567-e89b-12d3-a456-426614174000",
    "the image is sha256:" + "a3" * 32,
    "upgrade to version 1.2.3, then v2.10.0-rc.1",
    "Python 3.11.9 and numpy 2.1.0",
    "released 2024-01-15T08:30:00Z, patched 2024-02-01",
    "the total was 1234567890 and then 3.14159",
    "it costs $1,299.00 or 1.299,00 EUR",
    "ISBN 978-3-16-148410-0",
    "order #20240115 shipped",
    "use scikit-learn and sk-learn style APIs",
    "the password field must be at least 12 characters long",
    "set api_key in config.toml, never in the archive",
    "icon@2x.png and logo@3x.svg",
    "the colour #ff00aa on 1920x1080",
    "port 8080 on 127.0.0.1 and 10.0.0.1",
    "from 1999 to 2024, 25 years",
    "Matthew 5:3-12 and Chapter 12",
    "room 4.12, floor 3",
    "a base64 blob aGVsbG8gd29ybGQ=",
    "lat 52.3676, lon 4.9041",
]


def _scan(text: str) -> list[secrets.Finding]:
    return secrets.scan(text, region="US")


def test_the_corpus_precision_and_recall() -> None:
    found_right, missed, false_alarms, total_flags = 0, [], [], 0
    for kind, secret, sentence in SECRETS:
        text = sentence.format(secret)
        findings = _scan(text)
        total_flags += len(findings)
        start = text.index(secret)
        hit = [f for f in findings if f.start <= start + 2 and f.end >= start + len(secret) - 2]
        if hit and hit[0].kind == kind:
            found_right += 1
        else:
            missed.append((kind, secret[:24], [(f.kind, f.text) for f in findings]))
        false_alarms += [(text, f.text) for f in findings if f not in hit]
    for text in LOOKALIKES:
        findings = _scan(text)
        total_flags += len(findings)
        false_alarms += [(text, f.kind, f.text) for f in findings]
    recall = found_right / len(SECRETS)
    precision = (total_flags - len(false_alarms)) / total_flags
    assert recall >= 0.96, missed
    assert precision >= 0.96, false_alarms


def test_a_key_inside_a_keyword_line_is_one_finding_and_keys_beat_addresses() -> None:
    key = "ghp_" + _chars(36)
    findings = _scan(f"token: {key}\nGitHub {key} and AKIA{_chars(16, string.ascii_uppercase)}")
    kinds = [f.kind for f in findings]
    assert kinds.count("key") == 3 and "address" not in kinds


def test_strike_replaces_each_finding_and_nothing_else() -> None:
    text = "Mail sam.jones@example.org, call (415) 555-0132. Thanks!"
    findings = _scan(text)
    assert [f.kind for f in findings] == ["email", "phone"]
    assert secrets.strike(text, findings[:1]) == (
        "Mail [struck: e-mail address], call (415) 555-0132. Thanks!"
    )
    assert secrets.strike(text, findings) == (
        "Mail [struck: e-mail address], call [struck: phone number]. Thanks!"
    )


def test_a_private_key_is_struck_whole() -> None:
    text = f"before\n{_PEM}\nafter"
    (finding,) = _scan(text)
    assert finding.kind == "private_key"
    assert secrets.strike(text, [finding]) == "before\n[struck: private key]\nafter"


def test_fingerprints_name_the_text_not_the_place_and_masks_hide_it() -> None:
    a = _scan("x sam.jones@example.org")[0]
    b = _scan("some other words, then sam.jones@example.org")[0]
    assert a.fingerprint == b.fingerprint and a.start != b.start
    assert "jones@example" not in a.masked and a.fingerprint not in a.text


def test_the_region_comes_from_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "nl_NL.UTF-8")
    assert secrets.default_region() == "NL"
    assert [f.text for f in secrets.scan("bel 06 12345678")] == ["06 12345678"]


_words = st.text(alphabet=string.ascii_letters + string.digits + " .,:-@+()\n", max_size=200)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_words, st.sampled_from([s for _, s, _ in SECRETS])), max_size=6))
def test_findings_never_overlap_and_striking_them_leaves_none(pieces: list[str]) -> None:
    text = " ".join(pieces)
    findings = _scan(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert all(text[f.start : f.end] == f.text for f in findings)
    struck = secrets.strike(text, findings)
    assert not [f for f in _scan(struck) if f.kind in ("key", "private_key", "email")]


def test_addresses_are_looked_for_where_one_may_end_not_in_every_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pyap2 costs ~25 µs a character: a 2.2 MB profile of dated notes took two minutes
    notes = "\n".join(
        f"- 2024-01-{1 + n % 28:02d}: note number {n} about tea." for n in range(3000)
    )
    addresses = [
        "350 Fifth Avenue, New York, NY 10118",
        "221B Baker Street, London NW1 6XE",
        "100 Queen Street West, Toronto, Ontario M5H 2N2",
    ]
    text = notes + "".join(f"\n\nWrite to {a}.\n\n{notes}" for a in addresses)
    given: list[int] = []
    parse = pyap.parse

    def counted(scanned: str, country: str) -> list[Any]:
        given.append(len(scanned))
        return parse(scanned, country=country)

    monkeypatch.setattr(pyap, "parse", counted)
    found = [f for f in secrets.scan(text, region="US") if f.kind == "address"]
    assert [text[f.start : f.end] for f in found] == [f.text for f in found] == addresses
    assert sum(given) < len(text) / 100  # a few lines around each, not the text 3 times over


def test_an_address_after_runs_of_spaces_is_found_where_it_is_written() -> None:
    # pyap2 reads a copy with each run of spaces made one: its offsets drift after each run
    text = "Hi  there,   friend.    Ship it to 350 Fifth Avenue,  New York, NY 10118 today."
    (found,) = [f for f in secrets.scan(text, region="US") if f.kind == "address"]
    assert found.text == text[found.start : found.end] == "350 Fifth Avenue,  New York, NY 10118"
    assert secrets.strike(text, [found]).endswith("Ship it to [struck: postal address] today.")
