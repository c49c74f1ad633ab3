"""A model chosen by size: a dense Llama-3-shaped architecture of about that many parameters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import models
from planner.errors import ScenarioError
from planner.loader import from_dict
from planner.perf.params import MAX_SIZE_PARAMS, MIN_SIZE_PARAMS, count_params, dense_arch_for_params
from planner.whatif import from_yaml, model_params, set_model_size, to_yaml


def test_llama3_8b_size_gives_its_shape():
    want = models()["llama3-8b"].arch
    got = dense_arch_for_params(count_params(want).total)
    assert (got.layers, got.hidden, got.heads, got.n_kv_heads, got.ffn) == \
        (want.layers, want.hidden, want.heads, want.n_kv_heads, want.ffn)


@settings(max_examples=25, deadline=None)
@given(st.floats(MIN_SIZE_PARAMS, MAX_SIZE_PARAMS))
def test_any_size_is_met_within_two_percent(params):
    arch = dense_arch_for_params(params)
    assert count_params(arch).total == pytest.approx(params, rel=0.02)
    assert arch.heads % arch.n_kv_heads == 0 and arch.hidden == arch.heads * 128


def test_set_model_size_round_trips_through_yaml():
    s = from_dict({"name": "size", "workload": {"model": "llama3-8b", "tokens": 1e11, "seq_len": 8192},
                   "fleet": [{"name": "p", "chip": "h100-sxm", "units": 64}]})
    out = set_model_size(s, 70e9)
    assert model_params(out) == pytest.approx(70e9, rel=0.02)
    assert from_yaml(to_yaml(out)) == out
    with pytest.raises(ScenarioError, match="workload.model"):
        set_model_size(s, 10)
