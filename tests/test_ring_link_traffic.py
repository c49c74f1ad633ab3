"""A ring over three or more sites: each link carries its hop's bytes, the ones its time is computed on.

A review: DiLoCo over three sites on 10 Gbit/s links said its exchange took the whole 22 s round, yet counted each
link at half that traffic (0.5 GB/s of the 1.0 it carries), so a portfolio's `link:` sentence said 60% where the
jobs needed 120%. Two sites were right (both hops cross the one link, one each way).
"""

from __future__ import annotations

import pytest

from planner import api
from planner.loader import from_dict
from planner.perf.steptime import LINK_EFFICIENCY
from planner.units import GBPS_TO_BYTES, SECONDS_PER_DAY, TB


def _ring(sites: int) -> dict:
    names = ["site-a", "site-b", "site-c", "site-d"][:sites]
    links = [{"sites": [a, b], "gbps": 10, "latency_ms": 30} for i, a in enumerate(names) for b in names[i + 1:]]
    return {"name": f"ring{sites}", "start": "2025-01-01", "horizon_days": 400,
            "workload": {"model": "llama3-8b", "tokens": 2.0e12, "seq_len": 8192, "global_batch_tokens": 1048576},
            "fleet": [{"name": f"h100-{n}", "chip": "h100-sxm", "site": n, "units": 2048} for n in names],
            "links": links, "strategy": {"mode": "diloco"}, "reliability": {"enabled": False}}


@pytest.mark.parametrize("sites", [3, 4])
def test_a_link_bound_exchange_keeps_each_link_of_the_ring_about_full(sites):
    (diloco,) = [m for m in api.estimate(from_dict(_ring(sites)))["combined"]["modes"] if m["mode"] == "diloco"]
    assert len(diloco["pools"]) == sites and "the exchange takes" in diloco["detail"]  # the link sets the round
    per_link_bytes_s = diloco["link_tb_per_day"] * TB / SECONDS_PER_DAY / sites  # a ring: its neighbours' links
    carried = 10 * GBPS_TO_BYTES * LINK_EFFICIENCY
    # busy the whole round but for the hops' latencies: no more than the link carries, and not half of it
    assert 0.9 * carried <= per_link_bytes_s <= carried * (1 + 1e-9)


def test_two_sites_count_one_exchange_a_round_on_their_link():
    """Both hops of a two-site ring cross the one link, one each way: one direction's bytes, as before."""
    from planner.catalog import models
    from planner.perf.params import count_params

    (diloco,) = [m for m in api.estimate(from_dict(_ring(2)))["combined"]["modes"] if m["mode"] == "diloco"]
    round_s = float(diloco["detail"].split("outer step every ")[1].split(" s")[0])
    pseudo_gradient_bytes = 2.0 * count_params(models()["llama3-8b"].arch).total  # bf16
    per_hop = 2.0 * (2 - 1) / 2 * pseudo_gradient_bytes
    assert diloco["link_tb_per_day"] == pytest.approx(per_hop / round_s * SECONDS_PER_DAY / TB, rel=0.05)
