"""compare's rows: the speed a mode's run kept, beside its full plan's steady state (found by a review)."""

from __future__ import annotations

import pytest
from conftest import ROOT


def test_a_compare_row_s_speed_is_the_one_its_run_kept(cli):
    """The diloco row read 2.7 M tokens/s (all 11,712 Ascend chips) for a run done before any came."""
    r = cli("compare", str(ROOT / "scenarios" / "mixed-two-sites.yaml"), "--json")
    assert r.exit_code == 0, r
    tokens = 8e12  # the scenario's workload
    for row in (m for m in r.json()["modes"] if m["possible"] and m["finished"]):
        trained_s = (row["time_to_train_days"] - row["start_days"]) * 86400
        assert row["tokens_per_s"] * trained_s == pytest.approx(tokens, rel=1e-6), row["mode"]
        assert row["tokens_per_s"] <= row["full_tokens_per_s"] * (1 + 1e-9)
    diloco = next(m for m in r.json()["modes"] if m["mode"] == "diloco")
    assert diloco["tokens_per_s"] < 0.6 * diloco["full_tokens_per_s"]
