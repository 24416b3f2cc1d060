"""Profiles (freehold/profiles/) drafted from real exports, kept as plain files with every
version, and exported within each platform field's limit without losing anything silently."""

from __future__ import annotations

import errno
import json
import os
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from freehold import profiles
from freehold.archive import Archive
from freehold.errors import FreeholdError, NotFoundError
from freehold.profiles import draft, store
from freehold.profiles.platforms import FIELDS, fill, size
from tests.builders import ingest, write_zip

GOLDEN = "echomine-aucontraire/chatgpt-golden-001/raw.json"
CLAUDE = "echomine-aucontraire/claude/sample_export.json"
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-chatgpt-export.zip"


def _golden_instructions(real: Path) -> dict[str, str]:
    """The custom instructions as the real export holds them, read straight from its JSON."""
    raw = json.loads((real / GOLDEN).read_text(encoding="utf-8"))
    for node in raw["mapping"].values():
        message = node.get("message") or {}
        if message.get("content", {}).get("content_type") == "user_editable_context":
            data: dict[str, str] = message["metadata"]["user_context_message_data"]
            return data
    raise AssertionError("the golden export has no custom instructions")


def claude_export(real: Path, tmp_path: Path) -> Path:
    """Claude's real sample conversations, with the account files a 2026 export adds."""
    projects = [
        {
            "uuid": "proj-1",
            "name": "Thesis",
            "prompt_template": "Answer in French. Cite page numbers.",
            "docs": [{"uuid": "d1", "filename": "style.md", "content": "Short sentences."}],
        }
    ]
    memories = [{"conversations_memory": "Works on a thesis about tides.", "account_uuid": "a"}]
    return write_zip(
        tmp_path / "claude.zip",
        {
            "conversations.json": (real / CLAUDE).read_bytes(),
            "users.json": json.dumps([{"uuid": "a", "full_name": "A"}]).encode(),
            "projects.json": json.dumps(projects).encode(),
            "memories.json": json.dumps(memories).encode(),
        },
    )


def test_a_profile_from_a_real_chatgpt_export_takes_the_newest_instructions(
    archive: Archive, real: Path
) -> None:
    ingest(archive, SAMPLE)
    ingest(archive, real / GOLDEN)
    made = profiles.create(profiles.gather(archive), "work", [])
    golden = _golden_instructions(real)
    kinds = {s.kind: s for s in made.sections}
    # the golden conversation (2025-10-15) is newer than every sample one: its pair is used
    assert kinds["about"].text == golden["about_user_message"].strip()
    assert kinds["respond"].text == golden["about_model_message"].strip()
    notes = kinds["memory"].notes
    assert [(n.date, n.text) for n in notes] == [
        ("2024-01-20", "User works as a nurse on night shifts."),
        ("2024-02-04", "User is learning Japanese and wants romaji alongside kana."),
        ("2024-07-03", "User wants recipes without peanuts."),
    ]  # the sample saves the Japanese note twice: one note, dated when first saved
    left = "\n".join(made.meta["not_included"])
    assert left.count("earlier custom instructions") == 3
    assert "custom GPT g-GFJ15ObGb" in left and "does not include its instructions" in left
    sources = made.meta["from"]
    assert sources[0] == {
        "what": "custom instructions",
        "platform": "chatgpt",
        "date": "2025-10-15",
        "conversation": sources[0]["conversation"],
    }
    assert profiles.load_profile("work").system == made.system


def test_claude_memory_and_project_instructions_from_a_real_export(
    archive: Archive, real: Path, tmp_path: Path
) -> None:
    ingest(archive, claude_export(real, tmp_path))
    found = profiles.gather(archive)
    assert [s.name for s in found.sets] == ["Thesis"] and found.documents == 1
    plain = profiles.create(found, "plain", [])
    assert "Works on a thesis about tides." in plain.system
    assert "Answer in French" not in plain.system
    assert any("--include 'Thesis'" in line for line in plain.meta["not_included"])
    thesis = profiles.create(found, "thesis", ["thesis"])
    section = next(s for s in thesis.sections if s.kind == "instructions")
    assert section.title == "Instructions: Thesis (claude)"
    assert section.text == "Answer in French. Cite page numbers."
    with pytest.raises(FreeholdError, match=r"no instructions named nope .*Thesis"):
        profiles.create(found, "x", ["nope"])


def test_every_version_is_a_file_of_its_own_readable_without_freehold(
    archive: Archive, real: Path
) -> None:
    ingest(archive, real / GOLDEN)
    first = profiles.create(profiles.gather(archive), "work", [])
    assert first.path is not None
    original = first.path.read_bytes()
    with pytest.raises(FreeholdError, match=r"exists .*--again"):
        profiles.create(profiles.gather(archive), "work", [])
    edited = profiles.render(first).replace("forward-thinking", "plain-spoken")
    second = profiles.save_text("work", edited, where="test")
    assert second is not None and second.version == 2
    assert profiles.save_text("work", edited, where="test") is None  # nothing new to keep
    again = profiles.create(profiles.gather(archive), "work", [], again=True)
    assert again.version == 3 and profiles.versions("work") == [1, 2, 3]
    assert first.path.read_bytes() == original  # never rewritten
    # open at every exit: the files are YAML front matter over Markdown, nothing else
    text = (first.path.parent / "v0002.md").read_text(encoding="utf-8")
    _, head, body = text.split("---\n", 2)
    meta = yaml.safe_load(head)
    assert (meta["name"], meta["version"], meta["how"]) == ("work", 2, "edited")
    assert "plain-spoken" in body and "plain-spoken" not in first.path.read_text()
    assert profiles.load_profile("work", 1).system == first.system


def test_names_and_versions_that_do_not_exist_say_what_does() -> None:
    with pytest.raises(NotFoundError, match=r"no profile named 'x' .*profile create x"):
        profiles.load_profile("x")
    with pytest.raises(FreeholdError, match="not a profile name"):
        profiles.load_profile("../etc")
    profiles.save_text("a", "## About the user\n\nHi.\n", where="t")
    with pytest.raises(NotFoundError, match=r"no version 7 .*kept: 1"):
        profiles.load_profile("a", 7)


def test_broken_front_matter_is_refused_with_the_line() -> None:
    with pytest.raises(FreeholdError, match=r"t\.md: its front matter is not valid YAML \(line"):
        profiles.save_text("a", "---\nname: [unclosed\n---\nbody\n", where="t.md")
    assert profiles.versions("a") == []


@pytest.mark.parametrize(
    "text",
    [
        "{\nAlways answer in French.\n}\n",  # python-frontmatter would read this as JSON
        "+++\nnot = toml = x\n+++\nAlways answer in French.\n",  # ... and this as TOML
        '{"name": "work", "version": 3}\n',
        "Always answer in French.\n---\nnot: front matter\n---\n",
    ],
)
def test_only_yaml_between_dashes_is_front_matter_any_other_first_line_is_text(text: str) -> None:
    saved = profiles.save_text("a", text, where="t.md")
    assert saved is not None and saved.meta == {"saved": saved.saved, "how": "edited"}
    assert profiles.load_profile("a").system == text.strip()  # every word of it, nothing moved


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("---\nname: a\nno closing line\n", "no closing '---' line"),
        ("---\n- a\n- b\n---\nbody\n", "not 'key: value' lines"),
        ("---\nAlways answer in French.\n---\n", "not 'key: value' lines"),
        ("---\nname: a\n---\n", "no profile text"),
        ("", "no profile text"),
        ("## About the user\n\n## How to respond\n", "no profile text"),
    ],
)
def test_a_file_with_no_profile_text_or_broken_front_matter_is_refused(
    text: str, said: str
) -> None:
    profiles.save_text("a", "Be brief.\n", where="first")
    with pytest.raises(FreeholdError, match=rf"^t\.md: .*{said}"):
        profiles.save_text("a", text, where="t.md")
    assert profiles.versions("a") == [1] and profiles.load_profile("a").system == "Be brief."


def test_front_matter_keys_of_any_name_are_kept_and_exported() -> None:
    text = "---\ncontent: mine\nhandler: mine too\n1: a number\n---\nBe brief.\n"
    saved = profiles.save_text("a", text, where="t.md")
    assert saved is not None and saved.path is not None
    again = profiles.load_profile("a")
    assert (again.meta["content"], again.meta["handler"], again.meta[1]) == (
        "mine",
        "mine too",
        "a number",
    )
    exported = json.loads(profiles.export(again, "json").text)
    assert exported["front_matter"]["1"] == "a number" and exported["system"] == "Be brief."


def test_yaml_aliases_in_the_front_matter_are_refused() -> None:
    # a 694-byte alias bomb expands to 146 MB when a JSON export writes the front matter out
    levels = ["a: &a [" + ", ".join(['"x"'] * 9) + "]"]
    for level, name in enumerate("bcdefg"):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{'abcdefg'[level]}"] * 9) + "]")
    text = "---\n" + "\n".join(levels) + "\n---\nBe brief.\n"
    with pytest.raises(FreeholdError, match=r"^t\.md: its front matter uses a YAML alias \(\*a"):
        profiles.save_text("bomb", text, where="t.md")
    assert store.versions("bomb") == []
    # an anchor alone names nothing to repeat: kept
    assert profiles.save_text("anchor", "---\nx: &a 1\n---\nHi.\n", where="t.md") is not None


def test_secrets_in_the_front_matter_are_flagged_and_struck_like_the_body() -> None:
    key = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9" * 2
    text = f"---\nnote: my openai key {key} and sam.jones@example.org\n---\nBe brief.\n"
    profiles.save_text("fm", text, where="t")
    check = profiles.review(profiles.load_profile("fm"), region="US")
    assert sorted(f.kind for f in check.pending) == ["email", "key"]
    with pytest.raises(profiles.PendingError):
        check.outgoing()
    check.decide_all("strike")
    outgoing = check.outgoing()
    for fmt in ("markdown", "json"):
        exported = profiles.export(outgoing, fmt, struck=2).text
        assert key not in exported and "sam.jones@example.org" not in exported
        assert "[struck: API key or token]" in exported
    assert "[struck: e-mail address]" in outgoing.meta["note"]


def test_a_secret_under_its_key_in_the_front_matter_is_flagged_and_struck() -> None:
    # the keyword detector needs `password: …`: a key and its value scanned apart hid both
    text = (
        "---\npassword: hunter2hunter2\ndb:\n  api_key: 'q8Zr4TxLmW2pN7vB'\n---\n"
        "password: hunter2hunter2\n\nBody text.\n"
    )
    profiles.save_text("fk", text, where="t")
    check = profiles.review(profiles.load_profile("fk"), region="US")
    flagged = sorted((check.in_front(f), f.text) for f in check.findings)
    assert flagged == [
        (False, "hunter2hunter2"),
        (True, "hunter2hunter2"),
        (True, "q8Zr4TxLmW2pN7vB"),
    ]
    check.decide(check.findings[0], "strike", keep_record=False)  # struck in the body only
    check.decide(check.findings[2], "strike", keep_record=False)
    outgoing = check.outgoing()
    assert outgoing.meta["password"] == "[struck: password or secret]"
    for fmt in ("markdown", "json"):
        exported = profiles.export(outgoing, fmt, struck=3).text
        assert "hunter2hunter2" not in exported and "q8Zr4TxLmW2pN7vB" not in exported


def test_review_decisions_are_remembered_and_strike_what_leaves() -> None:
    profiles.save_text(
        "a", "## About the user\n\nMail sam@example.org, call +1 415-555-0132.\n", where="t"
    )
    check = profiles.review(profiles.load_profile("a"), region="US")
    assert [f.kind for f in check.pending] == ["email", "phone"]
    with pytest.raises(profiles.PendingError, match=r"2 flagged items \(likely secrets"):
        check.outgoing()
    check.decide(check.findings[0], "keep", keep_record=True)
    check.decide(check.findings[1], "strike", keep_record=True)
    assert check.outgoing().system.endswith("Mail sam@example.org, call [struck: phone number].")
    # a later version with the same text: nothing to ask again; the file holds no secret
    profiles.save_text("a", "## About the user\n\nReach me: +1 415-555-0132\n", where="t")
    again = profiles.review(profiles.load_profile("a"), region="US")
    assert again.pending == [] and "[struck: phone number]" in again.outgoing().system
    recorded = (store.folder("a") / "review.json").read_text()
    assert "555-0132" not in recorded and "sam@example.org" not in recorded


# -- platform exports within their limits ---------------------------------------------------

_text = st.text(alphabet=string.ascii_letters + " .,é😀", min_size=0, max_size=2400)
_notes = st.lists(
    st.tuples(
        st.dates().map(lambda d: d.isoformat()),
        st.text(string.ascii_letters + " ", min_size=1, max_size=300),
    ),
    max_size=12,
)


def _profile(about: str, respond: str, notes: list[tuple[str, str]]) -> profiles.Profile:
    body = [f"## About the user\n\n{about}", f"## How to respond\n\n{respond}"]
    lines = [f"- {d}: {' '.join(t.split()) or 'x'}" for d, t in notes]
    body.append("## Memory\n\n" + "\n".join(lines))
    return profiles.Profile("p", 1, "\n\n".join(body))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_text, _text, _notes)
def test_every_field_fits_its_limit_and_every_loss_is_said(
    about: str, respond: str, notes: list[tuple[str, str]]
) -> None:
    profile = _profile(about.strip(), respond.strip(), notes)
    sections = profile.sections
    for platform in profiles.PLATFORMS:
        for filled in fill(profile, platform):
            assert filled.length <= filled.spec.limit
            for section in sections:
                if section.kind not in filled.spec.takes:
                    continue
                if section.kind == "memory":
                    for note in section.notes:
                        cut = [c for c in filled.cuts if note.text[:40] in c.what]
                        assert (note.text in filled.text) != bool(cut)
                elif section.text and section.text not in filled.text:
                    assert any(repr(section.title) in c.what for c in filled.cuts)


def test_a_heading_of_ones_own_after_the_memory_starts_instructions() -> None:
    # a `## Style guide` after `## Memory` became a memory note, sent to ChatGPT's "know about
    # you" field (review R2); drafted notes are indented, so a pasted heading stays in its note
    body = (
        "Preamble.\n\n## How to respond\nBe brief.\n\n## Memory\n- 2024-01-01: likes tea\n"
        "- undated: my notes\n  ## Not a heading here\n\n"
        "## Style guide\nWrite in British English.\n"
    )
    profile = profiles.parse(body, name="s", where="t")
    kinds = [(s.kind, s.title) for s in profile.sections]
    assert kinds == [
        ("preamble", ""),
        ("respond", "How to respond"),
        ("memory", "Memory"),
        ("instructions", "Style guide"),
    ]
    memory = profile.sections[2]
    assert [n.text for n in memory.notes] == ["likes tea", "my notes\n## Not a heading here"]
    about, respond = fill(profile, "chatgpt")
    assert "British English" in respond.text and "British English" not in about.text


def test_chatgpt_gets_two_fields_and_the_cut_is_named() -> None:
    long_about = "I write tax software. " * 100  # 2,200 characters
    profile = _profile(long_about.strip(), "Be brief.", [("2024-01-02", "Likes tea.")])
    about, respond = fill(profile, "chatgpt")
    assert [f.spec.key for f in (about, respond)] == ["about_user", "about_model"]
    assert respond.text == "Be brief." and respond.cuts == []
    assert about.length <= 1500 and about.text.endswith("…")
    assert [c.what for c in about.cuts] == [
        "the end of 'About the user'",
        "memory note of 2024-01-02 ('Likes tea.')",
    ]
    exported = profiles.export(profile, "chatgpt")
    head = "=== What would you like ChatGPT to know about you? — "
    assert f"{head}{about.length:,} of 1,500 characters (limit documented) ===" in exported.text
    assert about.length > 1450  # cut at the last word that fits, not far before
    assert "(limit documented)" in exported.text and len(exported.cuts) == 2


def test_lengths_count_as_a_browser_does() -> None:
    assert size("😀") == 2 and size("é") == 1
    assert {f.platform for f in FIELDS} == {"chatgpt", "claude", "gemini"}
    assert all(f.source for f in FIELDS)


@settings(max_examples=60, deadline=None)
@example(body="", meta={"note": "\xa0"})  # a no-break space, stripped with the front matter
@example(body="", meta={"note": "0\x850"})  # a YAML line break, folded unless escaped
@given(
    st.text(alphabet=string.ascii_letters + string.digits + " #-:*\n", max_size=400),
    st.dictionaries(
        st.sampled_from(["note", "tags", "x", "content", "handler"]),
        st.text(max_size=30),
        max_size=3,
    ),
)
def test_a_profile_file_reads_back_as_written(body: str, meta: dict[str, str]) -> None:
    profile = profiles.Profile("p", 4, body, dict(meta))
    again = profiles.parse(profiles.render(profile), name="p", where="t")
    assert again.system == profile.system and again.version == 4
    assert {k: again.meta[k] for k in meta} == meta


def test_sections_split_at_the_profiles_own_headings_outside_code_fences() -> None:
    body = (
        "Intro.\n\n## About the user\n\nMe.\n\n## Tools\n\nA saw.\n\n"
        "## Instructions: Thesis (claude)\n\n```md\n## How to respond\n```\n"
    )
    sections = profiles.Profile("p", 1, body).sections
    assert [(s.kind, s.title) for s in sections] == [
        ("preamble", ""),
        ("about", "About the user"),
        ("instructions", "Instructions: Thesis (claude)"),
    ]
    assert sections[1].text == "Me.\n\n## Tools\n\nA saw."  # not a heading of the profile's
    assert "## How to respond" in sections[2].text  # in a code fence


_ABOUT = "## Background\nI run a bakery in Lyon.\n\n## Memory aids\nRemind me of deadlines."


def test_headings_inside_drafted_instructions_stay_in_their_section() -> None:
    found = profiles.Found()
    found.instructions.append(
        draft.Instructions(
            _ABOUT + "\n## How to respond\nIn a list.",
            "Reply in French.",
            "chatgpt",
            1.8e9,
            1.8e9,
            "c1",
        )
    )
    made = draft.draft(found, "p", [])
    about, respond = fill(made, "chatgpt")
    assert [s.kind for s in made.sections] == ["about", "respond"]
    for words in ("## Background", "I run a bakery in Lyon.", "Remind me of deadlines."):
        assert words in about.text
    assert "In a list." in about.text  # a line like a profile heading is made level 3
    assert respond.text == "Reply in French." and not about.cuts


_MEMORY = (
    "## About the user\n\nNurse.\n\n## Memory\n\nThe user prefers to be addressed as Dr. Kim."
    "\n\n1. Allergic to penicillin.\n- 2024-01-01: Likes tea.\n  Green, no sugar.\n"
)


@pytest.mark.parametrize("fmt", ["chatgpt", "claude", "gemini", "json"])
def test_every_line_of_a_memory_section_leaves_or_is_said_cut(fmt: str) -> None:
    profile = profiles.Profile("mem", 1, _MEMORY)
    notes = [(n.date, n.text) for s in profile.sections if s.kind == "memory" for n in s.notes]
    assert notes == [
        (None, "The user prefers to be addressed as Dr. Kim."),
        (None, "Allergic to penicillin."),
        ("2024-01-01", "Likes tea.\nGreen, no sugar."),
    ]
    exported = profiles.export(profile, fmt)
    for words in ("Dr. Kim.", "Allergic to penicillin.", "Likes tea.", "Green, no sugar."):
        assert words in exported.text
    assert exported.cuts == []


def test_a_disk_without_hard_links_keeps_every_version_whole(
    _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe M, item 1: FAT and exFAT refuse ``os.link`` (EPERM): a save was a traceback. The
    name is claimed with a new empty file instead, which the whole version then replaces."""

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)
    first = store.save(profiles.Profile("fat", 0, "## About\n\nfirst\n"), "test")
    second = store.save(profiles.Profile("fat", 0, "## About\n\nsecond\n"), "test")
    assert (first.version, second.version) == (1, 2)
    assert "second" in store.read("fat").body and "first" in store.read("fat", 1).body
    assert sorted(p.name for p in store.folder("fat").iterdir()) == ["v0001.md", "v0002.md"]
