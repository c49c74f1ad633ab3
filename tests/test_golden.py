"""Golden outputs: the shipped scenarios give exactly the files in tests/golden (see tests/golden/make.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
SCENARIOS = sorted((HERE.parent / "scenarios").glob("*.yaml"))


def _make():
    spec = importlib.util.spec_from_file_location("golden_make", GOLDEN / "make.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_outputs_match_golden(path: Path) -> None:
    folder = GOLDEN / path.stem
    assert folder.is_dir(), f"no golden outputs for {path.name}: run python tests/golden/make.py"
    got = _make().outputs(path)
    assert sorted(got) == sorted(p.name for p in folder.iterdir())
    for name, text in got.items():
        want = (folder / name).read_text(encoding="utf-8")
        assert text == want, f"{path.stem}/{name} differs from the golden file"
