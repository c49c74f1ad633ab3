"""A pool where nothing fits: every command states the same need and names the file.

``estimate`` took the least memory of every layout (855.4 GiB for a 405B model on 8 A100-40GB), ``compare`` and
``run`` that of the lean ones only (856.9 GiB); ``compare``'s line did not name the file.
"""

from __future__ import annotations

import re

from conftest import one_error_line


def test_every_command_states_the_same_need(cli, make_scenario, tmp_path):
    path = make_scenario({"workload": {"model": "llama3-405b", "tokens": 1.0e12, "seq_len": 8192},
                          "fleet": [{"name": "p", "chip": "a100-40gb", "units": 8}]})
    lines = {"estimate": one_error_line(cli("estimate", path), code=3),
             "compare": one_error_line(cli("compare", path), code=3),
             "run": one_error_line(cli("run", path, "--out", tmp_path / "out"), code=2)}
    needs = {k: re.search(r"needs ([\d.,]+) GiB", line).group(1) for k, line in lines.items()}
    assert len(set(needs.values())) == 1, needs
    assert all(str(path) in line for line in lines.values()), lines
