"""write_report: the `planner run` output folder, written atomically.

Everything is written into a fresh temporary folder next to the target (same parent, so the
final rename stays on one file system). Only when every file is complete does the folder
take the target's place; a previous report there is moved aside first and deleted after.
On any failure the temporary folder is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from ..errors import ReportError
from ..results import RunResult
from . import html as html_report
from . import tables

REPORT_FILES = ("summary.json", "schedule.csv", "events.csv", "replications.csv", "report.html", "report.xlsx")


def _check_target(out: Path) -> None:
    """Refuse to replace anything but a missing folder, an empty one, or a previous report."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise ReportError(f"{out}: exists and is not a folder; choose another --out")
    others = sorted(p.name for p in out.iterdir() if p.name not in REPORT_FILES)
    if others:
        listed = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        raise ReportError(
            f"{out}: the folder holds files that are not part of a report ({listed}); "
            "choose a new or empty folder for --out"
        )


def _write_all(result: RunResult, folder: Path) -> None:
    data = tables.tables(result)
    tables.write_summary(result, folder / "summary.json")
    tables.write_csv(data["schedule"], folder / "schedule.csv")
    tables.write_csv(data["events"], folder / "events.csv")
    tables.write_csv(data["replications"], folder / "replications.csv")
    tables.write_xlsx(result, folder / "report.xlsx")
    html_report.write_html(result, folder / "report.html")


def write_report(result: RunResult, out_dir: str | Path) -> Path:
    """Write summary.json, schedule.csv, events.csv, replications.csv, report.html and report.xlsx into ``out_dir``.

    Atomic: either ``out_dir`` ends up holding the complete new report, or (on any exception,
    which is re-raised) it is left untouched, holding the previous report if there was one,
    and no temporary folder remains. Returns the report folder.
    """
    out = Path(os.path.abspath(out_dir))
    if out == out.parent:
        raise ReportError(f"{out}: cannot replace the root folder")
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the report is an ordinary folder
        _write_all(result, tmp)
        _check_target(out)  # may have changed while we wrote
        if out.exists() or out.is_symlink():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old, out)  # put the previous report back
                raise
            if old.is_symlink() or not old.is_dir():
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
