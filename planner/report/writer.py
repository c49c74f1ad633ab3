"""write_report: the `planner run` output folder, written atomically.

Everything is written into a fresh temporary folder next to the target (same parent, so the
final rename stays on one file system). Only when every file is complete does the folder
take the target's place; a previous report there is moved aside first and deleted after.
On any failure the temporary folder is removed and the target is left as it was.

Only what planner wrote is replaced or removed (planner.ownership): the report folder, its temporary
and backup siblings carry a ``.planner-owned`` marker, and a target without one (another tool's
folder, a user's) is refused. When the target cannot be written or is refused, the results are not
lost: the report goes to a new folder under the system's temporary folder and the ReportError says
where. Marked temporary siblings of killed runs are removed at the next run; unmarked ones never.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path

from ..errors import ReportError  # noqa: F401 - planner.report re-exports it from here
from ..kinds import OUTPUT_FILES
from ..ownership import HELD_SIGNALS, default_folder_name, signals_held, write_folder  # noqa: F401 - re-exported
from ..results import RunResult
from . import html as html_report
from . import tables

REPORT_FILES = OUTPUT_FILES["report"]
def _xlsx_child(result: RunResult, path: Path) -> None:
    """The body of the process that writes the workbook (signals as by default: the parent cleans up)."""
    for sig in HELD_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:  # (``nohup``'s SIGHUP stays ignored)
            signal.signal(sig, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # forked with them held (``_start_xlsx``): they may come now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(HELD_SIGNALS))
    try:
        tables.write_xlsx(result, path)
    except BaseException:  # noqa: BLE001 - the parent writes it again and raises the error as one line
        os._exit(1)


def _start_xlsx(result: RunResult, path: Path, fork_server: bool = False):
    """Start writing report.xlsx in a forked process (None where forking is unsafe or unavailable).

    The workbook takes as long as the HTML page and the CSV files together; on a second core both are
    written at once. Only a single-threaded process forks (a fork copies no other thread, so a lock
    another thread holds would never be released in the child): the CLI forks, the app and test
    runners with threads write in order. ``fork_server``: the caller (the CLI after a run on a local Dask
    cluster, which leaves Dask's threads) started the fork server (planner/sim/dask_backend.py): the child
    forks from there (single-threaded, the tables module imported) and gets the result pickled.
    """
    from ..sim.dask_backend import fork_server_started

    if threading.active_count() <= 1 and "fork" in multiprocessing.get_all_start_methods():
        method = "fork"
    elif fork_server and fork_server_started():
        method = "forkserver"
    else:
        return None
    proc = multiprocessing.get_context(method).Process(target=_xlsx_child, args=(result, path), daemon=True)
    try:
        # SIGTERM (or Ctrl-C) waits until the fork is done: raised in the fork's own hooks (logging's lock), the
        # KeyboardInterrupt was swallowed with a traceback and the run went on to exit 0
        with signals_held():
            proc.start()
    except OSError:
        return None
    except Exception:  # noqa: BLE001 - the fork server's child gets the result pickled: if it cannot, write in order
        if method == "fork":
            raise
        return None
    return proc


def _write_all(result: RunResult, folder: Path, fork_server: bool = False) -> None:
    xlsx = folder / "report.xlsx"
    child = _start_xlsx(result, xlsx, fork_server)
    try:
        data = tables.tables(result)
        tables.write_summary(result, folder / "summary.json")
        tables.write_csv(data["schedule"], folder / "schedule.csv")
        tables.write_csv(data["events"], folder / "events.csv")
        tables.write_csv(data["replications"], folder / "replications.csv")
        tables.write_csv(tables.cashflow_table(result), folder / "cashflow.csv")
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


def write_report(result: RunResult, out_dir: str | Path, fork_server: bool = False) -> Path:
    """Write summary.json, schedule.csv, events.csv, replications.csv, report.html and report.xlsx into ``out_dir``.

    Atomic: either ``out_dir`` ends up holding the complete new report, or (on any exception,
    which is re-raised) it is left untouched, holding the previous report if there was one,
    and no temporary folder remains. Returns the report folder (a symbolic link's target when
    ``out_dir`` is a link to one).

    ``out_dir`` is replaced only when it is missing, empty or a report planner wrote before (its
    ``.planner-owned`` marker, see planner.ownership). Otherwise, and when it cannot be written, the
    ReportError names the folder, the reason and the folder under the system's temporary folder where
    the report was written instead (when even that fails, it says so). ``fork_server``: see ``_start_xlsx``.
    """
    return write_folder(out_dir, "report", REPORT_FILES, lambda folder: _write_all(result, folder, fork_server))
