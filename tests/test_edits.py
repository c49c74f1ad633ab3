"""What-if edits of a validated scenario (planner.edits): field paths, set_values, scale_cloud, slip_deliveries."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import edits
from planner.errors import ScenarioError
from planner.scenario import Scenario

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)

HYBRID = {
    "name": "hybrid",
    "horizon_days": 365,
    "fleet": [
        {"name": "owned", "chip": "h100-sxm", "units": 256,
         "deliveries": [{"date": "2025-02-01", "units": 512}, {"date": "2025-04-01", "units": 1024}]},
        {"name": "cloud", "chip": "h100-sxm",
         "cloud": {"units": 512, "from": "2025-01-15", "until": "2025-12-31", "price_per_chip_hour_usd": 2.5}},
    ],
}


@pytest.fixture
def hybrid(make_scenario) -> Scenario:
    return make_scenario.scenario(HYBRID)


def _frozen(s: Scenario) -> dict:
    return s.model_dump(mode="json", by_alias=True)


# ---------------------------------------------------------------- field paths


@pytest.mark.parametrize("path, parts", [
    ("workload.tokens", ("workload", "tokens")),
    ("fleet[1].cloud.units", ("fleet", 1, "cloud", "units")),
    ("fleet[0].deliveries[12].date", ("fleet", 0, "deliveries", 12, "date")),
    ("expect[0]", ("expect", 0)),
    ("grid[1][2]", ("grid", 1, 2)),
    ("name", ("name",)),
])
def test_parse_path(path, parts):
    assert edits.parse_path(path) == parts
    assert edits.format_path(parts) == path


@pytest.mark.parametrize("path", ["", "fleet.[1]", "fleet[x].units", "1fleet", "fleet..units", "fleet[1", "a b",
                                  "fleet[-1]", "x" * 201])
def test_parse_path_rejects_malformed(path):
    with pytest.raises(ScenarioError) as info:
        edits.parse_path(path)
    if path and len(path) <= 80:
        assert info.value.field == path
        assert path in str(info.value)


_name = st.tuples(st.sampled_from("aZ_"), st.text(alphabet="az_09Z", max_size=8)).map("".join)
_parts = st.lists(st.one_of(_name, st.integers(0, 999)), min_size=1, max_size=6).filter(
    lambda p: isinstance(p[0], str))


@FAST
@given(parts=_parts)
def test_format_then_parse_round_trips(parts):
    text = edits.format_path(parts)
    assert edits.parse_path(text) == tuple(parts)


@pytest.mark.parametrize("text, value", [("4096", 4096), ("1.5e12", 1.5e12), ("15.6e12", 15.6e12), ("1e4", 10_000),
                                         ("0.25", 0.25), ("2025-03-01", "2025-03-01"), ("true", True),
                                         ("h100-sxm", "h100-sxm"), ("", "")])
def test_parse_value(text, value):
    got = edits.parse_value(text)
    assert got == value
    # whole numbers are ints (units: 1e4 is 10000 chips), dates stay ISO strings
    want = int if isinstance(value, float) and value.is_integer() else type(value)
    assert type(got) is want, (text, got)


def test_get_value(hybrid):
    data = edits.to_mapping(hybrid)
    assert edits.get_value(data, "fleet[1].cloud.units") == 512
    assert edits.get_value(data, "fleet[0].deliveries[1].date") == "2025-04-01"
    with pytest.raises(ScenarioError) as info:
        edits.get_value(data, "fleet[5].units")
    assert info.value.field == "fleet[5]" and "the list has 2" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        edits.get_value(data, "fleet[0].cloud.units")
    assert info.value.field == "fleet[0].cloud"


def test_to_mapping_round_trips(hybrid):
    data = edits.to_mapping(hybrid)
    assert "costs" not in data  # only what was written
    assert data["fleet"][1]["cloud"]["from"] == "2025-01-15"  # the alias users write
    assert Scenario.model_validate(data) == hybrid


# ---------------------------------------------------------------- set_values


def test_set_values_returns_a_new_validated_scenario(hybrid):
    before = _frozen(hybrid)
    out = edits.set_values(hybrid, {"fleet[1].cloud.units": 2048, "workload.tokens": 3e11,
                                    "fleet[0].deliveries[0].date": "2025-03-01"})
    assert isinstance(out, Scenario) and out is not hybrid
    assert out.fleet[1].cloud.units == 2048
    assert out.workload.tokens == 3e11
    assert out.fleet[0].deliveries[0].date == dt.date(2025, 3, 1)
    assert out.fleet[1].planned_units == 2048
    assert _frozen(hybrid) == before  # the original is unchanged
    assert hybrid.fleet[1].cloud.units == 512


def test_set_values_accepts_pairs_and_creates_missing_sections(hybrid):
    out = edits.set_values(hybrid, [("reliability.enabled", True), ("reliability.mtbf_chip_days", 1000),
                                    ("costs.pue", 1.2)])
    assert out.reliability.mtbf_chip_days == 1000 and out.costs.pue == 1.2
    assert hybrid.costs.pue != 1.2


@pytest.mark.parametrize("path, value, field, reason", [
    ("fleet[0].units", -5, "fleet[0].units", "greater than or equal to 0"),
    ("fleet[1].cloud.until", "2024-01-01", "fleet[1].cloud.until", "must be after from"),
    ("fleet[0].deliveries[1].units", 300, "fleet[0].deliveries[1].units", "must not decrease"),
    ("workload.colour", "blue", "workload.colour", "unknown key"),
    ("fleet[0].chip", "h999", "fleet[0].chip", "unknown chip"),
])
def test_set_values_errors_name_the_field(hybrid, path, value, field, reason):
    before = _frozen(hybrid)
    with pytest.raises(ScenarioError) as info:
        edits.set_values(hybrid, {path: value}, name="what-if")
    assert info.value.field == field
    assert reason in str(info.value)
    assert str(info.value).startswith(f"what-if: {field}: ")
    assert _frozen(hybrid) == before


@pytest.mark.parametrize("path, field", [
    ("fleet[7].units", "fleet[7]"),
    ("name.first", "name.first"),
    ("links[0].gbps", "links"),
])
def test_set_values_errors_for_paths_that_are_not_there(hybrid, path, field):
    with pytest.raises(ScenarioError) as info:
        edits.set_values(hybrid, {path: 1})
    assert info.value.field == field


# ---------------------------------------------------------------- scale_cloud


def test_scale_cloud(hybrid):
    before = _frozen(hybrid)
    assert edits.scale_cloud(hybrid, 1.0) is hybrid
    more = edits.scale_cloud(hybrid, 1.5)
    assert [p.cloud.units if p.cloud else None for p in more.fleet] == [None, 768]
    assert more.fleet[0] == hybrid.fleet[0]
    assert _frozen(hybrid) == before


def test_scale_cloud_to_zero_drops_cloud_only_pools(hybrid):
    owned = edits.scale_cloud(hybrid, 0.0)
    assert [p.name for p in owned.fleet] == ["owned"]
    mixed = edits.set_values(hybrid, {"fleet[0].cloud": {"units": 64, "from": "2025-01-01", "until": "2025-02-01"}})
    kept = edits.scale_cloud(mixed, 0.001)  # 64 rented units round to none: that rental goes, the owned chips stay
    assert [p.name for p in kept.fleet] == ["owned", "cloud"] and kept.fleet[0].cloud is None
    assert kept.fleet[0].deliveries == hybrid.fleet[0].deliveries
    assert kept.fleet[1].cloud.units == 1  # 512 x 0.001 rounds to one unit
    only_cloud = edits.set_values(hybrid, {"fleet": [edits.to_mapping(hybrid)["fleet"][1]]})
    with pytest.raises(ScenarioError, match="no pool is left") as info:
        edits.scale_cloud(only_cloud, 0.0)
    assert info.value.field == "fleet"
    assert len(only_cloud.fleet) == 1 and only_cloud.fleet[0].cloud.units == 512


@FAST
@given(factor=st.floats(0.0, 8.0, allow_nan=False))
def test_scale_cloud_rounds_the_rented_units(factor):
    from planner.loader import from_dict

    s = from_dict({**HYBRID, "workload": {"model": "llama3-8b", "tokens": 1e11, "seq_len": 8192}})
    units = round(512 * factor)
    out = edits.scale_cloud(s, factor)
    if units >= 1:
        assert out.fleet[-1].cloud.units == units
    else:
        assert all(p.cloud is None for p in out.fleet)
    assert out.fleet[0].deliveries == s.fleet[0].deliveries
    assert s.fleet[1].cloud.units == 512


# ---------------------------------------------------------------- slip_deliveries


def test_slip_deliveries(hybrid):
    before = _frozen(hybrid)
    assert edits.slip_deliveries(hybrid, 0) is hybrid
    late = edits.slip_deliveries(hybrid, 30)
    assert [d.date for d in late.fleet[0].deliveries] == [dt.date(2025, 3, 3), dt.date(2025, 5, 1)]
    assert [d.units for d in late.fleet[0].deliveries] == [512, 1024]
    assert late.fleet[1].cloud == hybrid.fleet[1].cloud  # rentals do not move
    early = edits.slip_deliveries(hybrid, -31)
    assert early.fleet[0].deliveries[0].date == dt.date(2025, 1, 1)
    assert _frozen(hybrid) == before


@FAST
@given(days=st.integers(-400, 400))
def test_slip_and_back_is_the_original(days):
    from planner.loader import from_dict

    s = from_dict({**HYBRID, "workload": {"model": "llama3-8b", "tokens": 1e11, "seq_len": 8192}})
    moved = edits.slip_deliveries(s, days)
    assert [(d.date - o.date).days for d, o in zip(moved.fleet[0].deliveries, s.fleet[0].deliveries, strict=True)] \
        == [days] * len(s.fleet[0].deliveries)
    assert edits.slip_deliveries(moved, -days) == s
