"""Fuzz `validate`, `estimate` and `run` with mutated shipped scenarios and malformed YAML.

Each case runs in its own process under a 2 GiB address-space limit and a 60 s alarm (tests/fuzzing.py;
benchmarks/fuzz.py runs hundreds).

Every case must exit 0, 1, 2 or 3, print no traceback, keep an error to one line of at most 2,000 bytes, and
leave either a complete report folder or none, with no temporary folder behind.
"""

from __future__ import annotations

import collections

import pytest
from fuzzing import COMMANDS, make_cases, problems, run_cases

CASES_PER_CHUNK = 18


@pytest.mark.parametrize("seed", [20261129, 9])
def test_fuzz_cases_hold_in_their_own_processes(tmp_path, seed):
    cases = make_cases(seed, CASES_PER_CHUNK)
    assert collections.Counter(c.command for c in cases) == {c: CASES_PER_CHUNK // 3 for c in COMMANDS}
    assert sum(c.origin.split(": ", 1)[1].startswith(("cut", "random", "insert", "drop", "duplicate", "indent"))
               for c in cases) == CASES_PER_CHUNK // 4  # one in four is malformed YAML
    outcomes = run_cases(cases, tmp_path)
    assert len(outcomes) == len(cases)
    bad = {c.name: (c.command, c.origin, found) for c, o in zip(cases, outcomes, strict=True)
           if (found := problems(c, o, tmp_path / c.name))}
    assert not bad, bad
    assert {o.exit_code for o in outcomes} & {0, 1}  # some cases are valid and get through


def test_the_fuzz_checks_can_fail(tmp_path):
    """A traceback, a long message and a half-written folder are each caught."""
    from fuzzing import Case, Outcome

    case = Case("c", "run", "s.yaml", "", "hand-made")
    folder = tmp_path / "c"
    (folder / "tmp").mkdir(parents=True)
    (folder / "out").mkdir()
    (folder / "out" / "summary.json").write_text("{}")
    (folder / ".out.tmp-1-x").mkdir()
    o = Outcome("c", 2, None, 0.1, 1, "", "error: x\n" + "Traceback (most recent call last)\n" + "y" * 3000)
    found = " | ".join(problems(case, o, folder))
    for what in ("a traceback", "bytes", "not one error line", "half-written", "temporary folders left",
                 "yet a report folder"):
        assert what in found
    assert problems(case, Outcome("c", None, 9, 25.0, 1, "", ""), folder)
