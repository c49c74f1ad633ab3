"""benchmarks/validation.py scores runs outside the calibration set: none of them may be a calibration case."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from planner.arch import ModelArch
from planner.calibrate import _arch, cases

ROOT = Path(__file__).resolve().parent.parent


def _validation():
    spec = importlib.util.spec_from_file_location("validation_runs", ROOT / "benchmarks" / "validation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _shape(arch: ModelArch, chip: str, units: int, seq_len: int) -> tuple:
    """What makes two runs the same run: the model's whole shape, the chip, the chip count, the sequence length.

    The name may differ; LLaMA-1 7B and Llama 2 7B share a shape, not a run.
    """
    return arch.model_dump_json(), chip, units, seq_len


def test_no_validation_run_is_a_calibration_case():
    calibrated = {_shape(_arch(c), c["chip"], c["units"], c["seq_len"]): c["id"] for c in cases()}
    clash = {run["id"]: calibrated[key] for run in _validation().RUNS
             if (key := _shape(_arch(run), run["chip"], run["units"], run["seq_len"])) in calibrated}
    assert not clash, f"validation runs that are calibration cases: {clash}"


def test_the_check_sees_a_calibration_case():
    """DeepSeek-V3 on 2,048 H800 is a calibration case: the check above would name it."""
    from planner.catalog import models

    v3 = next(c for c in cases() if c["id"] == "deepseek-v3-h800-fp8-2048")
    assert _shape(models()["deepseek-v3"].arch, "h800", 2048, 4096) == _shape(_arch(v3), v3["chip"], v3["units"],
                                                                         v3["seq_len"])


def test_every_run_scores_on_both_paths():
    mod = _validation()
    for run in mod.RUNS:
        s = mod.score(run)
        assert s["stated"] > 0 and s["unstated"] > 0, run["id"]
        for lo, hi in (s["band_stated"], s["band_unstated"]):
            assert 0 < lo < 1 < hi, run["id"]


def test_the_readme_s_validation_table_is_what_the_script_prints_now(capsys):
    """The README quotes benchmarks/validation.py's table: every figure, band included, as the model gives it today.

    (Its bands went stale once while the text said they could not: the point figures matched, the P10-P90 ranges
    were an older calibration's.)
    """
    _validation().main()
    printed = capsys.readouterr().out.strip()
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```\nrun                chip") + 4
    quoted = readme[start:readme.index("```", start)].strip()
    assert quoted == printed
