"""The band in words: summary.json `model_band` and the report's first screen say what the spread rests on."""

from __future__ import annotations

import copy

from planner import api
from planner.loader import from_dict
from planner.report.headline import band_sentence

BASE = {"name": "band", "start": "2025-01-01", "horizon_days": 400,
        "workload": {"model": "llama3-8b", "tokens": 2e11, "seq_len": 8192, "global_batch_tokens": 4194304},
        "fleet": [{"name": "h", "chip": "h100-sxm", "units": 256}], "simulation": {"seed": 1, "replications": 3}}


def test_an_unstated_stack_says_so_and_the_replications_draw_from_it():
    s = api.simulate(from_dict(BASE)).summary
    b = s.model_band
    assert b["drawn"] and b["measurements"] == 0 and b["p10"] < 1 < b["p90"] and "stack not stated" in b["basis"]
    words = band_sentence(s)
    assert "0 measurements of yours" in words and "stack not stated" in words and "draws" in words


def test_a_stated_stack_narrows_it_and_one_replication_does_not_draw():
    doc = copy.deepcopy(BASE)
    doc["fleet"][0]["stack"] = "standard"
    doc["simulation"]["replications"] = 1
    stated = api.simulate(from_dict(doc)).summary.model_band
    free = api.simulate(from_dict(BASE)).summary.model_band
    assert stated["p90"] / stated["p10"] < free["p90"] / free["p10"]
    assert not stated["drawn"] and "not drawn" in band_sentence(api.simulate(from_dict(doc)).summary)


def test_measurements_of_yours_are_counted_and_named():
    doc = copy.deepcopy(BASE)
    doc["fleet"][0]["measured"] = [{"model": "llama3-8b", "units": 64, "seq_len": 8192,
                                    "global_batch_tokens": 4194304, "precision": "bf16",
                                    "tokens_per_s_per_chip": 7000}]
    b = api.simulate(from_dict(doc)).summary.model_band
    assert b["measurements"] == 1 and "1 of your measurements" in b["basis"]
    assert "1 measurement of yours" in band_sentence(api.simulate(from_dict(doc)).summary)
