"""schedule.csv's units_delivered: what was rented (cloud), as what was delivered (owned), the reserved share too."""

from __future__ import annotations

import pandas as pd


def test_a_rental_with_a_reserved_share_reads_every_chip_rented(cli, make_scenario, tmp_path):
    """2,048 rented with half held back: the schedule read 1,024 delivered (review).

    An owned pool's 512 with a quarter held back read 512; and the site power sheet halved the rental twice (896
    usable for 1,408).
    """
    path = make_scenario(
        workload={"model": "llama3-8b", "tokens": 5.0e12, "seq_len": 8192},
        fleet=[{"name": "own", "chip": "h100-sxm", "site": "dc", "units": 512, "reserved_fraction": 0.25},
               {"name": "rent", "chip": "h100-sxm", "site": "dc", "reserved_fraction": 0.5,
                "cloud": {"units": 2048, "from": "2025-01-03", "until": "2025-01-20",
                          "price_per_chip_hour_usd": 2.0}}],
        sites=[{"name": "dc", "pue": 1.2, "power_mw": [{"date": "2025-01-01", "mw": 3}]}], horizon_days=30)
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    sched = pd.read_csv(out / "schedule.csv")
    rent = sched[sched["pool"] == "rent"].set_index("date")
    own = sched[sched["pool"] == "own"].set_index("date")
    assert rent.loc["2025-01-02", "units_delivered"] == 0 and rent.loc["2025-01-06", "units_delivered"] == 2048
    assert rent.loc["2025-01-06", "units_in_service"] <= 1024  # (its usable half, less what site power holds back)
    assert own.loc["2025-01-06", "units_delivered"] == 512
    power = pd.read_excel(out / "report.xlsx", sheet_name="site power").set_index("date")
    assert power.loc[pd.Timestamp("2025-01-06"), "delivered_usable"] == 384 + 1024


def test_a_rental_whose_usable_share_rounds_to_none_still_reads_rented(cli, make_scenario, tmp_path):
    """One chip rented with 60% held back: no usable chip, yet it is rented and billed (review: it read 0)."""
    path = make_scenario(
        workload={"model": "llama3-8b", "tokens": 20e12, "seq_len": 8192}, horizon_days=30,
        fleet=[{"name": "own", "chip": "h100-sxm", "site": "dc", "units": 512},
               {"name": "rent", "chip": "h100-sxm", "site": "dc", "reserved_fraction": 0.6,
                "cloud": {"units": 1, "from": "2025-01-03", "until": "2025-01-20", "price_per_chip_hour_usd": 2.0}}])
    out = tmp_path / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    rent = pd.read_csv(out / "schedule.csv").query("pool == 'rent'").set_index("date")
    assert rent.loc["2025-01-02", "units_delivered"] == 0 and rent.loc["2025-01-06", "units_delivered"] == 1
    assert rent.loc["2025-01-25", "units_delivered"] == 0  # (after the window)
