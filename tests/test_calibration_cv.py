"""Cross-validated calibration on the path users get, the stack's offers in the search, MoE memory, the band."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest

from planner.calibrate import calibrate, cases
from planner.catalog import chips, models, stacks
from planner.perf import band as bandmod
from planner.perf.layout import RECOMPUTE, Parallelism
from planner.perf.search import best_layout, shape_axes
from planner.perf.setup import training_setup
from planner.perf.system import system_for


@pytest.fixture(scope="module")
def cal():
    return calibrate(cv=True)


def test_at_least_forty_cases_each_with_a_source():
    all_cases = cases()
    assert len(all_cases) >= 40
    for c in all_cases:
        assert c.get("sources") or c.get("source"), c["id"]
    text = resources.files("planner.data").joinpath("calibration_extra.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        assert len(row["source"]) > 20, row["id"]  # a URL or a paper with its table, not a bare id


def test_categories_are_reported_for_every_kind(cal):
    names = {k["name"] for k in cal.categories()}
    assert {"all", "moe", "fp8", "long-context"} <= names
    assert any(n.startswith("chip:") for n in names) and any(n.startswith("stack:") for n in names)
    for k in cal.categories():
        assert 0.0 <= k["band_coverage"] <= 1.0 and k["n"] >= 1


def test_default_path_meets_its_targets(cal):
    assert cal.mape_cv <= 0.12
    assert cal.mape_default_cv <= 0.15
    assert cal.mape_cv < cal.mape_naive
    for k in cal.categories():
        if k["n"] >= 3:
            assert k["band_coverage"] >= 0.7, k


def test_band_coverage_is_computed_out_of_fold(cal):
    """Each case's band comes from the residuals of the other publications only."""
    rows = cal.rows
    logr = np.log(cal.default_ratios())
    r = rows[0]
    others = [j for j, o in enumerate(rows) if o.group != r.group]
    stats = bandmod.residual_stats([rows[j].categories for j in others], logr[others],
                                   groups=[rows[j].group for j in others])
    lo, hi, _ = bandmod.band_from(stats, r.categories)
    assert (lo, hi) == pytest.approx((r.band_p10, r.band_p90))
    # with its own residual included the band differs: it was not used
    with_own = bandmod.residual_stats([o.categories for o in rows], logr, groups=[o.group for o in rows])
    assert bandmod.band_from(with_own, r.categories)[:2] != pytest.approx((lo, hi))
    assert all(o.band_covers == (o.band_p10 <= o.throughput_ratio(o.predicted_default_cv) <= o.band_p90)
               for o in rows)


def test_constants_are_cited_or_refit(cal):
    consts = cal.constants()
    refit = {c["name"] for c in consts if c["basis"] == "refit in CV"}
    assert {"kernel.basic", "kernel.standard", "kernel.optimized", "fp8_vs_bf16"} <= refit
    assert all(c["basis"] for c in consts)


def test_search_offers_only_what_the_stack_has():
    arch = models()["llama3-405b"].arch
    wl = training_setup(arch, 131072, 16e6, "bf16")
    for level, st in stacks().items():
        axes = shape_axes(arch, system_for(chips()["h100-sxm"], level), wl)
        assert set(axes["zero"]) <= set(st.zero), level
        assert {RECOMPUTE[i] for i in axes["recompute"]} <= set(st.recompute), level
        if not st.interleaved:
            assert axes["vp"] == [1]
        if not st.context_parallel:
            assert axes["cp"] == [1], level
    assert 2 not in shape_axes(arch, system_for(chips()["h100-sxm"], "standard"), wl)["zero"]


def test_mixtral_tp8_ep1_fits_memory():
    """Published Mixtral 8x7B layout: experts split by expert-TP, so TP8 EP1 fits an 80 GB chip."""
    arch = models()["mixtral-8x7b"].arch
    wl = training_setup(arch, 4096, 4 * 1024 * 1024, "bf16")
    r = best_layout(arch, system_for(chips()["h100-sxm"], "standard"), wl, 64, Parallelism(tp=8, ep=1, pp=1))
    assert r.layout.tp == 8 and r.layout.ep == 1
    assert r.memory_per_chip_gib < 80


def test_band_is_wider_with_less_evidence_and_without_a_stated_stack():
    dense = bandmod.band("h100-sxm", moe=False, precision="bf16", seq_len=8192, stack="optimized")
    moe = bandmod.band("h100-sxm", moe=True, precision="bf16", seq_len=8192, stack="optimized")
    unstated = bandmod.band("h100-sxm", moe=False, precision="bf16", seq_len=8192, stack=None,
                            stack_spread=(0.7, 1.2))
    assert moe[1] / moe[0] > dense[1] / dense[0]
    assert unstated[0] <= 0.7 * dense[0] * 1.5 and unstated[1] / unstated[0] > dense[1] / dense[0]
    assert "MoE" in moe[2] and "not stated" in unstated[2]


def test_fp16_is_a_precision():
    arch = models()["llama2-7b"].arch
    wl = training_setup(arch, 4096, 4e6, "fp16")
    r = best_layout(arch, chips()["v100"], wl, 64)
    assert r.tokens_per_s > 0


def test_new_chips_are_in_the_catalog():
    c = chips()
    assert c["mi325x"].bf16_tflops == pytest.approx(1307.4) and c["mi325x"].hbm_tbps == 6.0
    assert c["mi355x"].fp8_tflops == 5000 and c["mi355x"].tdp_w == 1400
    for k in ("b300", "gb300", "mi325x", "mi355x"):
        assert c[k].sources


def test_band_is_calibrated_not_just_wide(cal):
    """Out of fold the P10-P90 band covers 80% or a little more overall.

    A dense Hopper run on a stated stack gets a band no wider than about 0.8-1.25x; every category of 3+ cases
    is covered at least 70% of the time. The multiplier is the largest of the categories' own 80% quantiles
    (conditional coverage), so overall it covers more than 80%: 40 of 43 (93%) with the critical-path bubble,
    which predicts the TPU and long-context rows that fell outside. Runs outside the calibration cover less
    (benchmarks/validation.py: 7 of 11), so the wide side is the honest one; 95% would be a band that only widens.
    """
    cover = np.mean([r.band_covers for r in cal.rows])
    assert 0.75 <= cover <= 0.95, cover
    lo, hi, _ = bandmod.band("h100-sxm", moe=False, precision="bf16", seq_len=8192, stack="optimized")
    assert 0.75 <= lo < 1.0 < hi <= 1.30 and hi / lo <= 1.65, (lo, hi)
    # the multiplier and prior strength are refit on the training publications only (nested folds)
    st = cal.band_stats
    assert 0.5 < st["k"] < 3.0 and st["nu0"] in bandmod.NU0_GRID


def test_unstated_stack_widens_by_the_levels_spread_not_a_t_at_one_dof():
    stated = bandmod.band("h100-sxm", moe=False, precision="bf16", seq_len=8192, stack="standard")
    narrow = bandmod.band("h100-sxm", moe=False, precision="bf16", seq_len=8192, stack=None,
                          stack_spread=(0.95, 1.05))
    wide = bandmod.band("h100-sxm", moe=False, precision="bf16", seq_len=8192, stack=None,
                        stack_spread=(0.6, 1.2))
    assert narrow[1] / narrow[0] < wide[1] / wide[0]
    assert narrow[1] / narrow[0] < 1.35 * (stated[1] / stated[0])


def test_the_shipped_band_and_factors_are_the_current_calibrations(cal):
    """planner/data/tuning.yaml is what `python benchmarks/calibration.py --write` gives for the model as it is.

    It had gone stale: the model changed after the last write, and the band every command draws from (estimate,
    model_factor, measured priors) was centred 16% low for a stated `basic` stack, with FP8 3% fast. A change to
    the physics or the cases now fails here until the file is written again.
    """
    from planner.perf.system import tuning

    t = tuning()
    assert t["kernel"] == {k: pytest.approx(v, abs=5e-4) for k, v in cal.kernels.items()}
    assert t["fp8_vs_bf16"] == pytest.approx(cal.fp8_vs_bf16, abs=5e-4)
    st, shipped = cal.band_stats, t["band"]
    n, mean, sd = shipped["all"]
    assert (n, mean, sd) == (st["all"][0], pytest.approx(st["all"][1], abs=5e-5), pytest.approx(st["all"][2], abs=5e-5))
    for key in ("tau2", "tau2_unseen", "k", "nu0"):
        assert shipped[key] == pytest.approx(st[key], abs=5e-4), key
    assert set(shipped["categories"]) == {k for k in st if k not in ("all", "tau2", "tau2_unseen", "k", "nu0")}
    for name, (n, mean, sd, publications) in shipped["categories"].items():
        assert (n, publications) == (st[name][0], st[name][3]), name
        assert (mean, sd) == (pytest.approx(st[name][1], abs=5e-5), pytest.approx(st[name][2], abs=5e-5)), name
    assert t["mape"]["default_cv"] == pytest.approx(cal.mape_default_cv, abs=5e-5)


def test_a_categorys_evidence_is_its_publications():
    """Five cases of one publication tell its offset once.

    The band of a category all from one source is as wide as for a category of one case, and its mean moves the
    centre as one case's would.
    """
    cats = [("stack:basic",)] * 5 + [("stack:optimized",)] * 6
    x = np.array([0.30, 0.31, 0.29, 0.30, 0.32, -0.1, 0.1, 0.0, 0.05, -0.05, 0.02])
    one_paper = bandmod.residual_stats(cats, x, groups=["A"] * 5 + ["B", "C", "D", "E", "F", "G"])
    five_papers = bandmod.residual_stats(cats, x, groups=["A", "H", "I", "J", "K", "B", "C", "D", "E", "F", "G"])
    assert one_paper["stack:basic"][3] == 1 and five_papers["stack:basic"][3] == 5
    c1, v1 = bandmod._centre_var(one_paper, ("stack:basic",), 4.0)
    c5, v5 = bandmod._centre_var(five_papers, ("stack:basic",), 4.0)
    assert c1 < c5  # less pulled toward the category's +30%
    assert v1 > v5  # and less sure of it
