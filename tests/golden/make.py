"""Writes the golden outputs of the shipped scenarios (tests/golden/<scenario>/...).

Run from the project root: ``python tests/golden/make.py``. Re-run it, and review the diff, only
when a change is meant to alter the numbers; ``tests/test_golden.py`` compares against these files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FILES = ("summary.json", "schedule.csv", "events.csv")


def outputs(path: Path) -> dict[str, str]:
    """The golden texts of one scenario: estimate JSON, the report's data files, layouts and replications."""
    from planner import api
    from planner.loader import load_scenario
    from planner.report import write_report

    s = load_scenario(path)
    est = api.estimate(s)
    est["search"].pop("seconds")
    out = {"estimate.json": json.dumps(est, indent=2, sort_keys=True, default=str) + "\n"}
    result = api.run_scenario(s)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_report(result, Path(tmp) / "r")
        for name in FILES:
            out[name] = (folder / name).read_text(encoding="utf-8")
        html = (folder / "report.html").read_bytes()
    out["layouts.csv"] = result.layouts.to_csv(index=False, lineterminator="\n")
    out["replications.csv"] = result.replications.to_csv(index=False, lineterminator="\n")
    out["report.html.sha256"] = hashlib.sha256(html).hexdigest() + "\n"
    return out


def main() -> None:
    sys.path.insert(0, str(ROOT))
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        target = HERE / path.stem
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name, text in outputs(path).items():
            (target / name).write_text(text, encoding="utf-8")
        print("wrote", target.relative_to(ROOT))


if __name__ == "__main__":
    main()
