"""freehold.lifecycle: pinned or not, same model or not, warnings at the 60-day boundaries,
prices, and the user's file — against the shipped table and real config/lifecycle files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freehold import lifecycle
from freehold.errors import LifecycleError

TABLE = lifecycle.Table.shipped()
MODELS = list(TABLE.rows.values())
UNDATED = sorted({m.id for m in MODELS if not lifecycle.STAMP.search(m.id)})
PINNED = sorted({m.id for m in MODELS if lifecycle.is_pinned(m.id, table=TABLE)})
CONFIG = """
[providers.claude]
kind = "anthropic"
[providers.oa]
kind = "openai"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"
[providers.router]
kind = "openai"
base_url = "https://openrouter.ai/api/v1"
[providers.mistral-api]
kind = "openai"
base_url = "https://api.mistral.ai/v1"
[aliases]
sonnet = "claude:claude-sonnet-4-5-20250929"
"""


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    _isolated_home.mkdir(parents=True, exist_ok=True)
    (_isolated_home / "config.toml").write_text(CONFIG, encoding="utf-8")
    return _isolated_home


def kinds(ref: str, today: date) -> list[str]:
    return [warning.kind for warning in lifecycle.check(ref, today=today)]


# -- pinned -------------------------------------------------------------------------------------

VENDOR_NAMING = [  # from the vendors' own model pages
    ("gpt-4o", False),  # "points to the latest gpt-4o snapshot"
    ("gpt-4o-2024-08-06", True),
    ("gpt-4-0613", True),
    ("gpt-4", False),
    ("chatgpt-4o-latest", False),
    ("claude-sonnet-4-5", False),
    ("claude-sonnet-4-5-20250929", True),
    ("claude-opus-4-0", False),  # Anthropic's alias of claude-opus-4-20250514
    ("claude-3-5-haiku-latest", False),
    ("claude-2.1", True),
    ("gemini-2.0-flash", False),  # "latest stable" alias of gemini-2.0-flash-001
    ("gemini-2.0-flash-001", True),
    ("gemini-flash-latest", False),
    ("gemini-2.5-pro", True),  # a stable name with no numbered version behind it
    ("gemini-2.5-flash-preview-05-20", True),
    ("mistral-large-2411", True),
    ("mistral-large-latest", False),
    ("command-r", False),
    ("command-r-08-2024", True),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", True),
    ("qwen2.5:7b", False),  # an Ollama tag: whatever was pulled last
    ("my-finetune", False),  # unknown and undated: nothing says it is fixed
]


@pytest.mark.parametrize(("model_id", "pinned"), VENDOR_NAMING)
def test_pinned_follows_the_vendors_naming(model_id: str, pinned: bool) -> None:
    assert lifecycle.is_pinned(model_id, table=TABLE) is pinned


def test_every_row_is_judged_by_the_rules() -> None:
    for model in MODELS:
        pinned = lifecycle.is_pinned(model.id, table=TABLE)
        if model.alias_of or "latest" in model.id.split("-"):
            assert not pinned, model.id
        elif lifecycle.STAMP.search(model.id):
            assert pinned, model.id
        elif model.vendor == "openai":
            assert not pinned, model.id
    assert 150 < len(PINNED) < len(MODELS)


STAMPS = st.one_of(
    st.dates(date(2023, 1, 1), date(2030, 12, 31)).map(lambda d: f"-{d.isoformat()}"),
    st.dates(date(2023, 1, 1), date(2030, 12, 31)).map(lambda d: f"-{d:%Y%m%d}"),
    st.integers(1, 9).map(lambda n: f"-00{n}"),
)


@given(st.sampled_from(UNDATED), STAMPS)
def test_the_dated_form_of_a_name_is_pinned_and_the_same_model(name: str, stamp: str) -> None:
    if "latest" in name:
        return
    assert lifecycle.is_pinned(name + stamp, table=TABLE)
    assert lifecycle.same_model(name, name + stamp, table=TABLE)
    # asked for a snapshot, answered with the moving name: the pin cannot be confirmed
    assert not lifecycle.same_model(name + stamp, name, table=TABLE)


@given(st.sampled_from(UNDATED), STAMPS, STAMPS)
def test_another_snapshot_of_the_same_name_is_another_model(name: str, a: str, b: str) -> None:
    assert lifecycle.same_model(name + a, name + b, table=TABLE) is (a == b)


# -- same model ---------------------------------------------------------------------------------


def test_every_alias_in_the_table_serves_as_its_dated_targets() -> None:
    pairs = [(m.id, target) for m in MODELS for target in m.alias_of]
    assert ("claude-opus-4-0", "claude-opus-4-20250514") in pairs
    for requested, served in pairs:
        assert lifecycle.same_model(requested, served, table=TABLE), (requested, served)


@given(st.sampled_from(PINNED), st.sampled_from(PINNED))
def test_two_pinned_rows_are_the_same_model_only_when_equal(a: str, b: str) -> None:
    assert lifecycle.same_model(a, b, table=TABLE) is (a == b)


@pytest.mark.parametrize(
    ("requested", "served", "same"),
    [
        ("gpt-4o", "gpt-4o-2024-08-06", True),
        ("gpt-4o", "gpt-4o-mini-2024-07-18", False),  # a longer name is not a dated form
        ("gemini-2.0-flash", "models/gemini-2.0-flash-001", True),  # Gemini's modelVersion
        ("gemini-2.0-flash", "gemini-2.0-flash-lite-001", False),
        ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", True),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", False),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-11-20", False),
        ("qwen2.5:7b", "qwen2.5:7b", True),
        ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", False),
    ],
)
def test_same_model_on_real_pairs(requested: str, served: str, same: bool) -> None:
    assert lifecycle.same_model(requested, served, table=TABLE) is same


def test_check_served_warns_only_for_another_model(home: Path) -> None:
    assert lifecycle.check_served("oa:gpt-4o", "gpt-4o-2024-08-06") is None
    warning = lifecycle.check_served("oa:gpt-4o", "gpt-4o-mini-2024-07-18")
    assert warning and warning.kind == "served-other"
    assert "'gpt-4o-mini-2024-07-18', another model" in warning.message


# -- check and the 60-day window ----------------------------------------------------------------

RETIRES = date(2027, 1, 14)  # gpt-4o-2024-08-06: deprecated 2026-10-14, retires 2027-01-14


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 10, 13), []),
        (date(2026, 10, 14), ["deprecated"]),
        (RETIRES - timedelta(days=61), ["deprecated"]),
        (RETIRES - timedelta(days=60), ["retiring"]),
        (RETIRES - timedelta(days=1), ["retiring"]),
        (RETIRES, ["retired"]),
        (RETIRES + timedelta(days=400), ["retired"]),
    ],
)
def test_check_at_the_boundaries(home: Path, today: date, expected: list[str]) -> None:
    assert kinds("oa:gpt-4o-2024-08-06", today) == expected


def test_a_warning_names_the_dates_the_source_and_the_replacement(home: Path) -> None:
    (warning,) = lifecycle.check("oa:gpt-4o-2024-08-06", today=RETIRES - timedelta(days=60))
    message = warning.message
    assert "retires on 2027-01-14, in 60 days (deprecated 2026-10-14)" in message
    assert "gpt-6-luna" in message and "never swaps" in message
    assert "https://developers.openai.com/api/docs/deprecations, checked 2026-10-16" in message
    (last,) = lifecycle.check("oa:gpt-4o-2024-08-06", today=RETIRES - timedelta(days=1))
    assert "in 1 day (" in last.message
    assert warning.to_json()["replacement"] == "gpt-6-luna" and warning.fails


def test_an_unknown_model_is_unknown_never_safe(home: Path) -> None:
    assert kinds("local:qwen2.5:7b", date(2026, 12, 6)) == ["unknown", "unpinned"]
    # a self-hosted server's "gpt-4o" is not OpenAI's model: nothing is known of it
    assert kinds("local:gpt-4o-2024-08-06", date(2026, 12, 6)) == ["unknown"]
    (warning,) = lifecycle.check("oa:gpt-99-2030-01-01", today=date(2026, 12, 6))
    assert "unknown — not known to be safe" in warning.message and not warning.fails


def test_a_provider_is_matched_to_its_vendor_by_kind_and_address(home: Path) -> None:
    today = date(2026, 12, 6)
    assert kinds("claude:claude-3-opus-20240229", today) == ["retired"]
    assert kinds("router:anthropic/claude-3-opus-20240229", today) == ["retired"]
    assert kinds("mistral-api:codestral-2405", today) == ["retired"]
    assert kinds("anthropic:claude-3-opus-20240229", today) == ["retired"]  # not configured
    assert kinds("sonnet", today) == ["retired"]  # an alias of config.toml
    assert lifecycle.vendors_for("x", "openai", "https://api.x.ai/v1") == ("xai", "x")
    assert lifecycle.vendors_for("box", "openai", "http://127.0.0.1:8080/v1") == ("box",)


def test_an_alias_speaks_for_its_one_dated_target(home: Path) -> None:
    warnings = lifecycle.check("claude:claude-opus-4-0", today=date(2026, 12, 6))
    assert [w.kind for w in warnings] == ["retired", "unpinned"]
    assert (
        "claude:claude-opus-4-0 (an alias of claude-opus-4-20250514) was retired"
        in warnings[0].message
    )
    assert "now: claude-opus-4-20250514" in warnings[1].message


def test_other_sources_that_disagree_are_named(home: Path) -> None:
    (warning,) = lifecycle.check("claude:claude-3-7-sonnet-20250219", today=date(2026, 12, 6))
    assert "replacement claude-sonnet-5-5" not in warning.message  # that is the chosen one
    assert "depdesk 0.3.0 (checked 2026-09-24): deprecated 2025-10-28" in warning.message
    assert "replacement claude-sonnet-4-6" in warning.message


# -- price and context --------------------------------------------------------------------------


def test_price_and_context_limit(home: Path) -> None:
    price = lifecycle.price("claude:claude-sonnet-4-5-20250929")
    assert price and (price.input, price.output) == (3.0, 15.0)
    assert price.cost(1000, 500) == pytest.approx(0.0105)
    assert lifecycle.context_limit("claude:claude-sonnet-4-5-20250929") == 200_000
    assert lifecycle.price("local:qwen2.5:7b") is None
    assert lifecycle.context_limit("local:qwen2.5:7b") is None


# -- the user's file ----------------------------------------------------------------------------

USER_ROWS = """
[[model]]   # a shipped row, one field overridden
vendor = "openai"
id = "gpt-4o-2024-08-06"
retires = 2027-03-01
source = "https://example.org/notice"
checked = 2026-12-01

[[model]]   # a self-hosted model, filed under the provider's name
vendor = "local"
id = "qwen2.5:7b"
retires = "2027-02-01"
note = "We drop this model with the March upgrade."
price_input = 0
price_output = 0
context = 32768
source = "https://intranet.example/models"
checked = 2026-11-30
"""


def test_the_user_file_adds_rows_and_overrides_fields(home: Path) -> None:
    (home / lifecycle.USER_FILE).write_text(USER_ROWS, encoding="utf-8")
    model = lifecycle.lookup("oa:gpt-4o-2024-08-06")
    assert model and model.retires == date(2027, 3, 1)
    assert model.deprecated == date(2026, 10, 14) and model.replacement == "gpt-6-luna"  # kept
    assert (model.source, model.checked, model.data) == (
        "https://example.org/notice",
        "2026-12-01",
        "your model-lifecycle.toml",
    )
    assert kinds("local:qwen2.5:7b", date(2027, 2, 1) - timedelta(days=61)) == ["unpinned"]
    assert kinds("local:qwen2.5:7b", date(2027, 2, 1) - timedelta(days=60)) == [
        "retiring",
        "unpinned",
    ]
    assert lifecycle.context_limit("local:qwen2.5:7b") == 32768
    assert lifecycle.load_table().user_file == home / lifecycle.USER_FILE


def test_the_user_file_is_read_again_when_it_changes(home: Path) -> None:
    path = home / lifecycle.USER_FILE
    path.write_text(USER_ROWS, encoding="utf-8")
    assert lifecycle.lookup("local:qwen2.5:7b") is not None
    path.write_text("# nothing filed yet\n", encoding="utf-8")
    assert lifecycle.lookup("local:qwen2.5:7b") is None


ROW = '[[model]]\nvendor = "openai"\nid = "gpt-4o-2024-08-06"\nsource = "x"\nchecked = 2026-01-01\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[model]\nid = 1", "not valid TOML"),
        ('[[model]]\nvendor = "openai"\nid = "x"\nchecked = 2026-12-01', "source missing"),
        (
            '[[model]]\nvendor = "o"\nid = "x"\nsource = "s"\nchecked = "yesterday"',
            "checked = 'yesterday' is not a date",
        ),
        (
            '[[model]]\nvendor = "o"\nid = "x"\nsource = "s"\nchecked = 2026-12-01\nretire = 1',
            "unknown key 'retire'",
        ),
        (
            '[[model]]\nvendor = "o"\nid = "x"\nsource = "s"\nchecked = 2026-12-01\n'
            "deprecated = 2027-01-01\nretires = 2026-01-01",
            "retires is before deprecated",
        ),
        ('[models]\nvendor = "o"', "unknown table 'models'"),
        (
            '[[model]]\nvendor = "o"\nid = "x"\nsource = "s"\nchecked = 2026-12-01\nstate = "gone"',
            "state = 'gone'",
        ),
        (
            ROW + 'price_input = "x"\nprice_output = 1',
            "number 1: price_input = 'x': give USD",
        ),
        (
            ROW + "retires = 2027-01-01T10:00:00",
            "number 1: retires = 2027-01-01T10:00:00 is a time",
        ),
        (
            ROW + 'alias_of = "gpt-4o"',
            "number 1: alias_of = 'gpt-4o' is not a list of model ids",
        ),
        (
            ROW + "price_input = nan\nprice_output = 1",
            "number 1: price_input = nan: give USD",
        ),
        (
            ROW + "price_input = 1\nprice_output = -1",
            "number 1: price_output = -1: give USD",
        ),
        (
            ROW + "price_input = 1",
            "number 1: price_input without price_output",
        ),
        (
            ROW + "context = -5",
            "number 1: context = -5: give a whole number of tokens",
        ),
        (
            ROW + "context = 1.5",
            "number 1: context = 1.5",
        ),
        (
            ROW + "note = 5",
            "number 1: note = 5 is not text",
        ),
        (
            ROW + '[[model]]\nvendor = 7\nid = "y"\nsource = "s"\nchecked = 2026-01-01',
            "number 2: vendor = 7",
        ),
    ],
)
def test_a_bad_user_file_is_one_line_naming_it(home: Path, text: str, problem: str) -> None:
    path = home / lifecycle.USER_FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LifecycleError) as caught:
        lifecycle.check("oa:gpt-4o", today=date(2026, 12, 6))
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message and message.endswith("fix it or move it away")


def test_a_user_row_can_mark_a_moving_name_as_an_alias(home: Path) -> None:
    """DeepSeek's deepseek-chat moves between versions, and no dataset pairs it with one."""
    assert lifecycle.is_pinned("deepseek-chat")
    (home / lifecycle.USER_FILE).write_text(
        '[[model]]\nvendor = "deepseek"\nid = "deepseek-chat"\nalias_of = ["deepseek-v3.2"]\n'
        'source = "https://api-docs.deepseek.com/"\nchecked = 2026-12-01\n',
        encoding="utf-8",
    )
    assert not lifecycle.is_pinned("deepseek-chat")
    assert lifecycle.same_model("deepseek-chat", "deepseek-v3.2")
