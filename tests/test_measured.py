"""The lab's own measurements (`measured:` rows, planner/perf/measured.py): the Bayesian update and its plumbing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.perf import measured as M
from planner.perf.setup import measured_batch_tokens
from planner.perf.system import Z_P90

GEMM = np.array([0.7, 0.0, 0.05, 0.05, 0.2])  # a dense, GEMM-bound step
KERNEL = (0.0, 0.2, 1e9, 0.02)  # other model, path length, scale length, noise


def prior(shares=GEMM, model="a", units=64, mu=0.0, sd=0.13, q=0.0):
    return M.WorkloadPrior(mu, sd, q, np.asarray(shares, dtype=float), model, units)


def test_posterior_closed_form_one_row_same_workload():
    """One row on the target's own workload: the conjugate normal update of a log-normal prior."""
    mu0, s0, y, sm = 0.05, 0.13, math.log(0.7), 0.02
    t = prior(mu=mu0, sd=s0)
    post = M.posterior(t, [t], [y], (0.0, 0.2, 1e9, sm))
    prec = 1 / s0**2 + 1 / sm**2
    assert post.mu == pytest.approx((mu0 / s0**2 + y / sm**2) / prec, rel=1e-9)
    assert post.sd == pytest.approx(math.sqrt(1 / prec), rel=1e-9)
    assert post.weights[0] == pytest.approx(s0**2 / (s0**2 + sm**2), rel=1e-9)


def test_same_workload_row_dominates_and_band_narrows():
    t = prior(mu=0.024)
    post = M.posterior(t, [t], [math.log(0.7)], KERNEL)
    assert abs(post.factor / 0.7 - 1) < 0.02  # the prediction moves almost fully to the measurement
    lo, hi = post.band()
    assert math.log(hi / lo) < 0.5 * 2 * Z_P90 * t.sd  # under half the prior band's width (in log)


def test_transfer_shrinks_with_distance():
    """Rows of the same model move the target less the more their step time goes to other paths."""
    target = prior()
    moves = []
    for net in (0.2, 0.3, 0.45, 0.7):  # the row spends ever more of its step on the network
        shares = np.array([0.9 - net, 0.0, 0.05, 0.05, net])
        post = M.posterior(target, [prior(shares=shares)], [math.log(0.7)], KERNEL)
        moves.append(-post.mu)
    assert moves == sorted(moves, reverse=True) and moves[0] > 0.3 and moves[-1] < 0.1
    corr = [M.correlation(target, prior(shares=np.array([0.9 - n, 0, 0.05, 0.05, n])), KERNEL)
            for n in (0.2, 0.3, 0.45)]
    assert corr[0] == 1.0 and corr[1] < 1.0 and corr[2] < corr[1]


def test_another_model_transfers_only_through_the_pool_stack():
    """A stated stack: another model's row leaves the target alone; an unstated one moves it (the shared stack)."""
    y = [math.log(0.7)]
    stated = M.posterior(prior(), [prior(model="b")], y, KERNEL)
    assert stated.mu == pytest.approx(0.0)
    unstated = M.posterior(prior(q=0.8, sd=0.4), [prior(model="b", q=0.8, sd=0.4)], y, KERNEL)
    assert -0.4 < unstated.mu < -0.15


def test_workload_prior_from_band_and_spread():
    p = M.workload_prior((0.85, 1.2), (0.5, 1.25), GEMM)
    m, s = M.lognormal_band(0.85, 1.2)
    s_stack = (math.log(1.25) - math.log(0.5)) / (2 * Z_P90)
    assert p.mu == pytest.approx(m + (math.log(0.5) + math.log(1.25)) / 2)
    assert p.sd == pytest.approx(s + s_stack)
    assert p.stack_share == pytest.approx(s_stack**2 / (s_stack**2 + s**2))
    assert M.workload_prior((0.85, 1.2), None, GEMM).stack_share == 0.0


def test_path_shares_split_gemm_by_expert_flops():
    terms = {"gemm": 6.0, "attention": 1.0, "cp": 1.0, "ep": 1.0, "tp": 0.5, "dp": 0.5, "elementwise": 1.0,
             "jitter": 5.0}
    a = M.path_shares(terms, expert_share=0.5)
    assert a.sum() == pytest.approx(1.0)
    assert dict(zip(M.PATHS, a, strict=True))["moe"] == pytest.approx(4.0 / 11.0)  # half the GEMMs + the all-to-all
    assert dict(zip(M.PATHS, a, strict=True))["attention"] == pytest.approx(2.0 / 11.0)
    from planner.catalog import models

    assert M.expert_gemm_share(models()["llama3-8b"].arch) == 0.0
    assert 0.3 < M.expert_gemm_share(models()["deepseek-v3"].arch) < 1.0


def test_interval_score():
    from planner.transfer import interval_score

    assert interval_score(0.0, -1.0, 1.0) == pytest.approx(2.0)
    assert interval_score(2.0, -1.0, 1.0) == pytest.approx(2.0 + 10.0)


def measured_row(**kw):
    row = {"model": "llama3-8b", "units": 64, "seq_len": 8192, "global_batch_tokens": 4194304,
           "precision": "bf16", "tokens_per_s_per_chip": 6000}
    row.update(kw)
    return row


def test_estimate_with_a_row_on_the_same_workload(cli, make_scenario):
    plain = cli("estimate", make_scenario(), "--json").json()["pools"][0]
    x = plain["tokens_per_s"] / plain["units"]
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64,
                                 "measured": [measured_row(tokens_per_s_per_chip=0.7 * x)]}])
    p = cli("estimate", path, "--json").json()["pools"][0]
    assert p["tokens_per_s"] / p["units"] == pytest.approx(0.7 * x, rel=0.05)
    assert p["tokens_per_s_p90"] / p["tokens_per_s_p10"] < plain["tokens_per_s_p90"] / plain["tokens_per_s_p10"]
    assert p["efficiency_fitted"] == pytest.approx(0.7, rel=0.05)
    assert "1 of your measurements" in p["band_basis"]
    r = cli("estimate", path, "--explain")
    assert r.exit_code == 0 and "posterior efficiency" in r.stdout and "your measurements" in r.stdout


def test_no_rows_no_change(cli, make_scenario):
    p = cli("estimate", make_scenario(), "--json").json()["pools"][0]
    assert "efficiency_fitted" not in p


@pytest.mark.parametrize("row, field", [
    (measured_row(units=0), "fleet[0].measured[0].units"),
    (measured_row(model="no-such-model"), "fleet[0].measured[0].model"),
    (measured_row(tokens_per_s_per_chip=5e6), "fleet[0].measured[0].tokens_per_s_per_chip"),
    (measured_row(parallelism={"tp": 3}), "fleet[0].measured[0].parallelism.tp"),
    (measured_row(global_batch_tokens=100), "fleet[0].measured[0]"),
    (measured_row(extra=1), "fleet[0].measured[0].extra"),
])
def test_bad_rows_exit_2_naming_the_field(cli, make_scenario, row, field):
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64, "measured": [row]}])
    r = cli("validate", path)
    assert r.exit_code == 2, r
    assert field in r.stderr and str(path.name) in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_row_far_off_the_model_is_refused_at_estimate(cli, make_scenario):
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64,
                                 "measured": [measured_row(tokens_per_s_per_chip=100)]}])
    r = cli("estimate", path, "--json")
    assert r.exit_code == 2 and "fleet[0].measured[0].tokens_per_s_per_chip" in r.stderr


def test_measured_batch_fills_a_batch_the_workload_leaves_out(make_scenario):
    s = make_scenario.scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64,
                                       "measured": [measured_row(global_batch_tokens=8388608)]}])
    assert measured_batch_tokens(s) == 8388608
    s2 = make_scenario.scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64,
                                        "measured": [measured_row(seq_len=4096)]}])
    assert measured_batch_tokens(s2) is None  # another sequence length is another workload


def test_fitted_planner_scales_every_layout(make_scenario):
    from planner.bridge import layout_planners

    batch = {"workload": {"global_batch_tokens": 4194304}}
    s = make_scenario.scenario(batch, fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64,
                                              "measured": [measured_row(tokens_per_s_per_chip=5000)]}])
    plain = make_scenario.scenario(batch)
    fitted, base = layout_planners(s)["h100"], layout_planners(plain)["h100"]
    assert isinstance(fitted, M.FittedPlanner)
    for units in (16, 32, 64):
        a, b = fitted.layout(units), base.layout(units)
        assert a.tokens_per_s == pytest.approx(b.tokens_per_s * fitted.efficiency)
        assert a.step_time_s == pytest.approx(b.step_time_s / fitted.efficiency)
    assert fitted.efficiency < 1.0


def test_tokens_per_s_from_logs():
    megatron = [f" iteration {i:8d}/ 1000 | consumed samples: {512 * i} | elapsed time per iteration (ms): "
                f"{ms} | learning rate: 1.0E-04 | global batch size:   512 | lm loss: 2.0 |"
                for i, ms in enumerate([9000.0, 5000.0, 4100.0, 4000.0, 4000.0, 3900.0], start=1)]
    # 512 x 4096 tokens in 4.0 s on 64 chips: 8,192 tokens/s per chip (the first three steps are warm-up)
    assert M.tokens_per_s_per_chip_from_log(megatron, 4096, 64) == pytest.approx(512 * 4096 / 4.0 / 64)
    titan = [f"step: {i}  loss:  8.1  memory: 30.5GiB(38.6%)  tps: {t}  tflops: 346.2  mfu: 35.0%"
             for i, t in enumerate(["1,000", "6,900", "7,245", "7,300", "7,200"], start=1)]
    assert M.tokens_per_s_per_chip_from_log(titan, 8192, 8) == pytest.approx(7250.0)
    assert M.tokens_per_s_per_chip_from_log(["nothing here"], 8192, 8) is None
