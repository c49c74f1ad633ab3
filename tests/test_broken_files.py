"""The private set of broken and hostile scenario files (tests/data/broken, written by its make.py).

Each file attacks one defect class of issue 9. ``planner run FILE --replications 1`` must give the expected
exit code (2 bad input, 3 nothing fits; a valid but hopeless plan finishes unfinished with 1), one line of at
most 2,000 bytes naming the file and holding the expected text, no traceback, and no report folder on an error.
benchmarks/fuzz.py --broken runs the same files each in its own process and prints the slowest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import one_error_line

BROKEN = Path(__file__).resolve().parent / "data" / "broken"
EXPECTED = json.loads((BROKEN / "expected.json").read_text(encoding="utf-8"))


def test_the_set_covers_every_input_class_with_at_least_41_files():
    assert len(EXPECTED) >= 41
    assert {name.split("-")[0] for name in EXPECTED} == {"c1", "c2", "c4", "c5", "c10"}
    assert sorted(p.name for p in BROKEN.iterdir() if p.name.startswith("c")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_broken_file_gives_one_short_line(cli, tmp_path, name):
    codes, text = EXPECTED[name]
    path = BROKEN / name
    out = tmp_path / "out"
    r = cli("run", path, "--replications", "1", "--out", out)
    assert r.exit_code in codes, r
    assert "Traceback" not in r.stderr + r.stdout, r
    if r.exit_code in (2, 3):
        line = one_error_line(r, r.exit_code)
        assert line.startswith(f"error: {path}") and text in line, r
        assert not out.exists()
    else:
        assert text in r.stdout and sorted(p.name for p in out.iterdir())
