"""write_report: the `planner run` output folder, written atomically.

Everything is written into a fresh temporary folder next to the target (same parent, so the
final rename stays on one file system). Only when every file is complete does the folder
take the target's place; a previous report there is moved aside first and deleted after.
On any failure the temporary folder is removed and the target is left as it was.

When the target cannot be written (read-only, not a folder, a full disk, a name too long, a folder of
other files), the results are not lost: the report goes to a new folder under the system's temporary
folder and the ReportError says where. Temporary siblings carry the writer's process id; those of
processes that are gone (killed runs) are removed at the next run.
"""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ..errors import ReportError
from ..results import RunResult
from . import html as html_report
from . import tables

REPORT_FILES = ("summary.json", "schedule.csv", "events.csv", "replications.csv", "report.html", "report.xlsx")
_STEM_CHARS = 60  # of the target's name in temporary siblings: .NAME.tmp-PID-XXXX must fit NAME_MAX (255 bytes)
_STALE_AFTER_S = 3600.0  # siblings without a live owner that are this old are left over from a killed run


def default_folder_name(scenario_name: str) -> str:
    """A file-name-safe folder name for a scenario: its ASCII letters, digits and ``._-``.

    When that drops characters (say a name in Chinese), a short hash of the full name keeps two such
    scenarios apart instead of both landing in one ``scenario`` folder.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario_name).strip(".-")[:100]
    if safe and re.sub(r"[A-Za-z0-9._ -]", "", scenario_name) == "":
        return safe
    digest = hashlib.sha256(scenario_name.encode("utf-8")).hexdigest()[:8]
    return f"{safe or 'scenario'}-{digest}"


def _is_report(out: Path, names: list[str]) -> bool:
    return set(names) <= set(REPORT_FILES) and {"summary.json", "report.html"} <= set(names)


def _check_target(out: Path) -> None:
    """Refuse to replace anything but a missing folder, an empty one, or a previous report."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise ReportError(f"{out}: exists and is not a folder; choose another --out")
    names = sorted(p.name for p in out.iterdir())
    if names and not _is_report(out, names):
        others = [n for n in names if n not in REPORT_FILES] or names
        listed = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        raise ReportError(
            f"{out}: the folder holds files that are not a previous report ({listed}); "
            "choose a new or empty folder for --out"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _clean_stale(out: Path) -> None:
    """Remove ``.NAME.tmp-*``/``.NAME.old-*`` siblings left by runs that were killed."""
    stem = out.name[:_STEM_CHARS]
    pattern = re.compile(rf"^\.{re.escape(stem)}\.(?:tmp|old)-(?:(\d+)-)?[A-Za-z0-9_]+$")
    try:
        siblings = list(out.parent.iterdir())
    except OSError:
        return
    for p in siblings:
        m = pattern.match(p.name)
        if not m:
            continue
        try:
            old = time.time() - p.lstat().st_mtime > _STALE_AFTER_S
        except OSError:
            continue
        owner = int(m.group(1)) if m.group(1) else None
        if (owner is not None and owner != os.getpid() and not _alive(owner)) or (owner is None and old):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return exc.strerror or type(exc).__name__


def _xlsx_child(result: RunResult, path: Path) -> None:
    """The body of the process that writes the workbook (signals as by default: the parent cleans up)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        tables.write_xlsx(result, path)
    except BaseException:  # noqa: BLE001 - the parent writes it again and raises the error as one line
        os._exit(1)


def _start_xlsx(result: RunResult, path: Path):
    """Start writing report.xlsx in a forked process (None where forking is unsafe or unavailable).

    The workbook takes as long as the HTML page and the CSV files together; on a second core both are
    written at once. Only a single-threaded process forks (a fork copies no other thread, so a lock
    another thread holds would never be released in the child): the CLI forks, the app and test
    runners with threads write in order.
    """
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    proc = multiprocessing.get_context("fork").Process(target=_xlsx_child, args=(result, path), daemon=True)
    try:
        proc.start()
    except OSError:
        return None
    return proc


def _write_all(result: RunResult, folder: Path) -> None:
    xlsx = folder / "report.xlsx"
    child = _start_xlsx(result, xlsx)
    try:
        data = tables.tables(result)
        tables.write_summary(result, folder / "summary.json")
        tables.write_csv(data["schedule"], folder / "schedule.csv")
        tables.write_csv(data["events"], folder / "events.csv")
        tables.write_csv(data["replications"], folder / "replications.csv")
        html_report.write_html(result, folder / "report.html")
    except BaseException:
        if child is not None:
            child.kill()
            child.join()
        raise
    if child is not None:
        child.join()
        if child.exitcode == 0:
            return
        xlsx.unlink(missing_ok=True)  # the child failed: write it here, where its error is raised
    tables.write_xlsx(result, xlsx)


def write_report(result: RunResult, out_dir: str | Path) -> Path:
    """Write summary.json, schedule.csv, events.csv, replications.csv, report.html and report.xlsx into ``out_dir``.

    Atomic: either ``out_dir`` ends up holding the complete new report, or (on any exception,
    which is re-raised) it is left untouched, holding the previous report if there was one,
    and no temporary folder remains. Returns the report folder.

    When ``out_dir`` cannot be written, the ReportError names the reason and the folder under the
    system's temporary folder where the report was written instead (when even that fails, it says so).
    """
    try:
        return _write_atomic(result, out_dir)
    except (ReportError, OSError) as exc:
        reason = f"{out_dir}: {_os_reason(exc)}" if isinstance(exc, OSError) else str(exc)
        if isinstance(exc, OSError) and exc.filename and exc.filename != str(out_dir):
            reason = f"{out_dir}: cannot write {exc.filename}: {_os_reason(exc)}"
        try:
            spare = Path(tempfile.mkdtemp(prefix="planner-report-"))
            _write_all(result, spare)
        except Exception:  # noqa: BLE001 - the second place failing too is reported, not raised
            raise ReportError(f"cannot write the report: {reason}; nor under {tempfile.gettempdir()}") from None
        raise ReportError(f"cannot write the report: {reason}; the results were written to {spare} instead; "
                          "choose a writable --out") from None


def _write_atomic(result: RunResult, out_dir: str | Path) -> Path:
    out = Path(os.path.abspath(out_dir))
    if out == out.parent:
        raise ReportError(f"{out}: cannot replace the root folder")
    if len(out.name.encode("utf-8", "surrogateescape")) > 255:
        raise ReportError(f"{out.name[:40]}…: the folder name is longer than 255 bytes; choose a shorter --out")
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(out)
    stem = out.name[:_STEM_CHARS]
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the report is an ordinary folder
        _write_all(result, tmp)
        _check_target(out)  # may have changed while we wrote
        if out.exists() or out.is_symlink():
            old = out.parent / f".{stem}.old-{os.getpid()}-{uuid.uuid4().hex[:12]}"
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
