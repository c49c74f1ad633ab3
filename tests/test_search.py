"""Layout search: infeasible layouts rejected, chosen layouts consistent, monotone in memory and chips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog import chips, models
from planner.errors import InfeasiblePlanError
from planner.perf.layout import LAYOUT_FIELDS, Layout, Parallelism
from planner.perf.search import best_layout, usable_hbm_bytes
from planner.perf.setup import training_setup
from planner.units import GIB

H100 = chips()["h100-sxm"]
FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def arch(mid):
    return models()[mid].arch


def wl(mid, seq=8192, gbt=None, precision="bf16"):
    return training_setup(arch(mid), seq, gbt, precision)


# --- (a) infeasible layouts are rejected ---------------------------------------------------------


def test_405b_does_not_fit_on_8_h100():
    a = arch("llama3-405b")
    # the bf16 weights alone exceed the memory of 8 chips
    assert 405e9 * 2 > 8 * 80 * GIB
    with pytest.raises(InfeasiblePlanError) as ei:
        best_layout(a, H100, wl("llama3-405b"), 8)
    assert "GiB" in str(ei.value)


def test_pinned_70b_without_sharding_does_not_fit():
    with pytest.raises(InfeasiblePlanError) as ei:
        best_layout(arch("llama3-70b"), H100, wl("llama3-70b"), 64, Parallelism(tp=1, pp=1, zero=0))
    assert "GiB" in str(ei.value)


def test_no_chips_is_infeasible():
    with pytest.raises(InfeasiblePlanError):
        best_layout(arch("llama3-8b"), H100, wl("llama3-8b"), 0)


# --- (b) the chosen layout is self-consistent -----------------------------------------------------

CASES = [
    ("llama3-8b", "h100-sxm", 8, 8192, None),
    ("llama3-8b", "a100-80gb", 64, 8192, None),
    ("llama3-70b", "h100-sxm", 1024, 8192, None),
    ("llama3-70b", "ascend-910b", 512, 4096, None),
    ("llama3-405b", "h100-sxm", 2048, 8192, 16e6),
    ("gpt3-175b", "a100-80gb", 1000, 2048, None),
    ("deepseek-v3", "h800", 2048, 4096, 61e6),
    ("mixtral-8x7b", "h100-sxm", 100, 4096, None),
]


@pytest.mark.parametrize("mid,chip_id,units,seq,gbt", CASES)
def test_chosen_layout_is_consistent(mid, chip_id, units, seq, gbt):
    chip = chips()[chip_id]
    w = wl(mid, seq, gbt)
    r = best_layout(arch(mid), chip, w, units)
    lay = r.layout
    assert r.units_available == units
    assert 1 <= r.units_used <= units
    assert lay.tp * lay.pp * lay.cp * lay.dp == r.units_used
    assert lay.dp % lay.ep == 0
    assert r.memory_per_chip_gib <= usable_hbm_bytes(chip) / GIB
    assert r.memory_per_chip_gib > 0
    assert 0 < r.mfu < 1
    assert r.tokens_per_s > 0 and r.step_time_s > 0
    assert r.layouts_evaluated >= 1


# --- (c) more memory never slows the best layout --------------------------------------------------


@FAST
@given(
    mid=st.sampled_from(["llama3-8b", "llama3-70b"]),
    units=st.sampled_from([16, 64, 256, 1024]),
    x=st.lists(st.floats(40, 400, allow_nan=False), min_size=2, max_size=2, unique=True).map(sorted),
)
def test_more_memory_is_never_slower(mid, units, x):
    x1, x2 = x
    a, w = arch(mid), wl(mid)
    small = H100.model_copy(update={"hbm_gib": x1})
    big = H100.model_copy(update={"hbm_gib": x2})
    try:
        r1 = best_layout(a, small, w, units)
    except InfeasiblePlanError:
        r1 = None
    try:
        r2 = best_layout(a, big, w, units)
    except InfeasiblePlanError:
        assert r1 is None, f"feasible with {x1} GiB but not with {x2} GiB"
        return
    if r1 is not None:
        assert r2.tokens_per_s >= r1.tokens_per_s * (1 - 1e-9), (x1, x2, r1.layout, r2.layout)


# --- (d) more chips never lowers the best rate ----------------------------------------------------


@FAST
@given(
    mid=st.sampled_from(["llama3-8b", "llama3-70b"]),
    n1=st.integers(8, 512),
    extra=st.integers(1, 512),
)
def test_more_chips_is_never_slower(mid, n1, extra):
    a, w = arch(mid), wl(mid)
    n2 = n1 + extra
    try:
        r1 = best_layout(a, H100, w, n1)
    except InfeasiblePlanError:
        r1 = None
    try:
        r2 = best_layout(a, H100, w, n2)
    except InfeasiblePlanError:
        assert r1 is None, f"feasible on {n1} chips but not on {n2}"
        return
    if r1 is not None:
        assert r2.tokens_per_s >= r1.tokens_per_s * (1 - 1e-9), (n1, n2, r1.layout, r2.layout)


# --- (e) pins are honoured ------------------------------------------------------------------------


def test_pin_tp_pp_honoured():
    r = best_layout(arch("llama3-70b"), H100, wl("llama3-70b"), 512, Parallelism(tp=4, pp=2))
    assert (r.layout.tp, r.layout.pp) == (4, 2)
    assert r.layout.tp * r.layout.pp * r.layout.cp * r.layout.dp == r.units_used <= 512


def test_pin_everything_honoured():
    pin = Parallelism(tp=8, pp=4, cp=1, micro_batch=1, recompute="full", zero=1, vp=1)
    r = best_layout(arch("llama3-70b"), H100, wl("llama3-70b"), 1024, pin)
    lay = r.layout
    assert (lay.tp, lay.pp, lay.cp, lay.micro_batch, lay.recompute, lay.zero, lay.vp) == (8, 4, 1, 1, "full", 1, 1)
    assert r.layouts_evaluated == 1


# --- (f) the search is broad ----------------------------------------------------------------------


def test_search_scores_many_layouts():
    r = best_layout(arch("llama3-405b"), H100, wl("llama3-405b", 8192, 16e6), 16384)
    assert r.layouts_evaluated >= 10_000
    assert r.units_used <= 16384


# --- (g) the layout records -----------------------------------------------------------------------


def test_layout_as_dict_and_label():
    r = best_layout(arch("llama3-70b"), H100, wl("llama3-70b"), 512, Parallelism(tp=4, pp=2, vp=1, zero=1))
    d = r.layout.as_dict()
    assert tuple(d) == LAYOUT_FIELDS
    assert {"vp", "zero"} <= set(d)
    assert Layout(**d) == r.layout
    assert (d["tp"], d["pp"], d["vp"], d["zero"]) == (4, 2, 1, 1)
    assert r.layout.units == d["tp"] * d["pp"] * d["cp"] * d["dp"] == r.units_used
    assert r.layout.label().startswith("TP4 PP2x1 ")


@pytest.mark.parametrize("bad", [{"tp": 0}, {"zero": 4}, {"recompute": "some"}, {"colour": 1}])
def test_parallelism_pin_rejects_bad_values(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Parallelism(**bad)


def test_training_setup_batch_in_sequences():
    a = arch("llama3-8b")
    assert training_setup(a, 8192, 16e6, "bf16").global_batch_seqs == round(16e6 / 8192)
    assert training_setup(a, 8192, None, "bf16").global_batch_seqs == round(4e6 / 8192)  # default below 100B
    assert training_setup(arch("llama3-405b"), 8192, None, "fp8").global_batch_seqs == round(16e6 / 8192)
    assert training_setup(a, 8192, 100, "bf16").global_batch_seqs == 1


# --- the simulation's planner: its incremental scoring gives best_layout's answer ------------------

_RESULT_FIELDS = ("layout", "units_available", "units_used", "tokens_per_s", "step_time_s", "mfu",
                  "memory_per_chip_gib", "micro_batches", "layouts_evaluated")


@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mid=st.sampled_from(["llama3-8b", "mixtral-8x7b"]),
       asks=st.lists(st.tuples(st.integers(1, 3000), st.sampled_from([None, 64, 100, 517])), min_size=3,
                     max_size=12))
def test_planner_gives_best_layouts_answer_whatever_was_asked_before(mid, asks):
    from planner.perf.search import LayoutPlanner

    w = wl(mid)
    planner = LayoutPlanner(arch(mid), H100, w, 3000)
    for units, b in asks:
        got = planner.layout(units, b)
        setup = planner._setup(b)  # the workload with its batch share of b sequences
        try:
            want = best_layout(arch(mid), H100, setup, units)
        except InfeasiblePlanError:
            want = None
        if units < planner.min_units:
            assert got is None
            continue
        assert (got is None) == (want is None), (units, b)
        if want is not None:
            assert {f: getattr(got, f) for f in _RESULT_FIELDS} == {f: getattr(want, f) for f in _RESULT_FIELDS}


@pytest.mark.parametrize("mid", ["llama3-8b", "llama3-405b", "mixtral-8x7b"])
@pytest.mark.parametrize("chip_id,precision", [("h100-sxm", "bf16"), ("h100-sxm", "fp8"), ("ascend-910b", "bf16")])
def test_no_layout_trains_faster_than_its_chips_fastest_compute(mid, chip_id, precision):
    """The bound the goodput sizing skips searches with: tokens/s <= chips x fastest rate / model FLOPs per token."""
    from planner.perf.params import model_flops_per_token
    from planner.perf.search import build_candidates
    from planner.perf.steptime import evaluate, fastest_flops
    from planner.perf.system import as_system

    a, system = arch(mid), as_system(chips()[chip_id])
    w = wl(mid, precision=precision)
    c = build_candidates(a, system, w, 2048)
    sc = evaluate(a, system, w, c)
    bound = sc.units_used * fastest_flops(system, w) / model_flops_per_token(a, w.seq_len)
    assert (sc.tokens_per_s <= bound).all() and (sc.tokens_per_s > 0.3 * bound).any()


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(mid=st.sampled_from(["llama3-8b", "mixtral-8x7b", "llama3-405b"]), units=st.integers(1, 200_000),
       b=st.sampled_from([None, 1, 7, 64, 100, 517]), pin_dp=st.sampled_from([None, 4]))
def test_grouped_degrees_are_those_of_every_shape(mid, units, b, pin_dp):
    """The planner works out data-parallel degrees per group of shapes: the same as shape by shape."""
    import numpy as np

    from planner.perf.search import _DegreeKeys, layout_shapes, shapes_on

    pin = Parallelism(dp=pin_dp) if pin_dp else Parallelism()
    setup = wl(mid) if b is None else training_setup(arch(mid), 8192, b * 8192, "bf16")
    shapes = layout_shapes(arch(mid), H100, setup, pin)
    keys = _DegreeKeys.of(shapes)
    assert len(keys.mp) < len(shapes) and keys.count.sum() == len(shapes)
    dp, ok = keys.on(units, setup, pin)
    want_dp, want_ok = shapes_on(shapes, units, setup, pin)
    assert np.array_equal(ok, want_ok) and np.array_equal(dp, want_dp)


@pytest.mark.parametrize("pin", [Parallelism(micro_batch=8), Parallelism(tp=2, dp=8), Parallelism(pp=2)])
def test_planner_counts_what_best_layout_counts_under_pins(pin):
    """The planner's count of layouts scored comes from its groups of shapes; pins change the grid it counts."""
    from planner.perf.search import LayoutPlanner

    w = wl("llama3-8b")
    planner = LayoutPlanner(arch("llama3-8b"), H100, w, 2048, pin)
    for units, b in ((2048, None), (700, 64), (130, 100), (1024, 7), (64, 4)):
        got = planner.layout(units, b)
        try:
            want = best_layout(arch("llama3-8b"), H100, planner._setup(b), units, pin)
        except InfeasiblePlanError:
            want = None
        assert (got is None) == (want is None), (units, b)
        if want is not None:
            assert {f: getattr(got, f) for f in _RESULT_FIELDS} == {f: getattr(want, f) for f in _RESULT_FIELDS}


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from([("llama3-405b", "ascend-910b", 8192), ("deepseek-v3", "h100-sxm", 4096),
                             ("llama3-8b", "ascend-910b", 32768)]),
       asks=st.lists(st.tuples(st.integers(8, 40_000), st.sampled_from([None, 16, 100, 517])), min_size=2,
                     max_size=5))
def test_bounded_search_gives_best_layouts_answer_on_large_models(case, asks):
    """The planner scores only shapes whose speed bound reaches near the fastest: best_layout scores every one."""
    from planner.perf.search import LayoutPlanner

    mid, chip_id, seq = case
    chip = chips()[chip_id]
    w = wl(mid, seq=seq)
    planner = LayoutPlanner(arch(mid), chip, w, 40_000)
    for units, b in asks:
        got = planner.layout(units, b)
        try:
            want = best_layout(arch(mid), chip, planner._setup(b), units)
        except InfeasiblePlanError:
            want = None
        assert (got is None) == (want is None), (units, b)
        if want is not None:
            assert {f: getattr(got, f) for f in _RESULT_FIELDS} == {f: getattr(want, f) for f in _RESULT_FIELDS}


@pytest.mark.parametrize("mid,chip_id", [("llama3-70b", "ascend-910b"), ("deepseek-v3", "h100-sxm")])
def test_scores_from_shape_terms_are_those_of_evaluate(mid, chip_id):
    """A shape's terms scored once, completed at any degree, give evaluate's scores bit for bit.

    Block recompute only ever slows a micro-batch (the search's speed bound rests on it).
    """
    import numpy as np

    from planner.perf.search import layout_shapes
    from planner.perf.steptime import evaluate, evaluate_on, shape_terms
    from planner.perf.system import as_system

    a, system, w = arch(mid), as_system(chips()[chip_id]), wl(mid, seq=4096)
    shapes = layout_shapes(a, system, w)
    terms = shape_terms(a, system, w, shapes, parts=True)
    rng = np.random.default_rng(1)
    idx = np.sort(rng.choice(len(shapes), 3000, replace=False))
    c = shapes.take(idx, rng.integers(1, 1024, len(shapes)).astype(shapes.tp.dtype))
    want = evaluate(a, system, w, c, keep_parts=True)
    got = evaluate_on(a, system, w, c, terms.take(idx), keep_parts=True)
    for k in ("memory_bytes", "step_time_s", "tokens_per_step", "micro_batches", "units_used"):
        assert np.array_equal(getattr(got, k), getattr(want, k)), k
    block = c.recompute == 3
    assert block.any() and (want.parts.t_mb[block] >= terms.t_mb[idx][block]).all()


@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mid=st.sampled_from(["llama3-8b", "llama3-70b"]), start=st.integers(1100, 3000),
       b=st.sampled_from([None, 64, 100, 517]))
def test_counts_that_give_every_group_its_degree_again_get_best_layouts_answer(mid, start, b):
    """Counts that give every group of shapes the same degree are answered without a search, still as best_layout.

    Neighbouring counts often do: the answer is the one found before, for the count asked (units_available,
    layouts counted).
    """
    from planner.perf.search import LayoutPlanner

    planner = LayoutPlanner(arch(mid), H100, wl(mid), 3200)
    scored = []
    real = planner._scored
    planner._scored = lambda *a: scored.append(a[0]) or real(*a)
    asks = [u for u in range(start, start + 24) if u >= planner.min_units]
    for units in asks:
        got = planner.layout(units, b)
        want = best_layout(arch(mid), H100, planner._setup(b), units)
        assert {f: getattr(got, f) for f in _RESULT_FIELDS} == {f: getattr(want, f) for f in _RESULT_FIELDS}
    assert len(scored) < len(asks) or not asks  # (the test exercises the answers found again)
