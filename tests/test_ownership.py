"""Issue 17, findings 1-3: planner deletes or replaces only what it wrote.

Temporary and backup folders and report folders carry a `.planner-owned` marker (a random token and what
wrote it); nothing without one is removed or replaced. A refused run keeps its results in a temporary
folder the one-line error names. Default folder names cannot collide, and `--out` through a symbolic link
writes into the link's target.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import one_error_line

REPORT = ("summary.json", "schedule.csv", "events.csv", "replications.csv", "report.html", "report.xlsx")


def _spare(line: str) -> Path:
    """The temporary folder an error line says the results went to."""
    assert "the results were written to " in line, line
    return Path(line.split("the results were written to ")[1].split(" instead")[0])


def _error_line(r) -> str:
    """The one `error:` line of a command that also printed progress lines."""
    assert r.exit_code == 2 and "Traceback" not in r.stderr + r.stdout, r
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("error: ")]
    return line


def _scenario_of(folder: Path) -> str:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))["scenario"]


@pytest.fixture
def spare_dir(tmp_path, monkeypatch) -> Path:
    """The system's temporary folder, for this test only (where refused results go)."""
    folder = tmp_path / "spare"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


# ---------------------------------------------------------------- finding 1: files it did not create


def test_finding1_users_dot_old_files_and_folders_are_kept(cli, make_scenario, tmp_path):
    """`.NAME.old-v1/notes.txt`, a file `.NAME.old-2024` and `.NAME.old-123-x` (no live PID 123) are the user's."""
    out = tmp_path / "myreport"
    v1 = tmp_path / ".myreport.old-v1"
    v1.mkdir()
    (v1 / "notes.txt").write_text("my notes")
    dated = tmp_path / ".myreport.old-2024"
    dated.write_text("last year's figures")
    fresh = tmp_path / ".myreport.old-123-x"
    fresh.mkdir()
    (fresh / "draft.md").write_text("draft")
    tmp_like = tmp_path / ".myreport.tmp-999999999-abc123"  # looks like a killed run's folder, but no marker
    tmp_like.mkdir()
    (tmp_like / "summary.json").write_text('{"mine": true}')
    hours_ago = time.time() - 7200
    for p in (v1, dated, fresh, tmp_like):
        os.utime(p, (hours_ago, hours_ago))

    r = cli("run", make_scenario(), "--out", out)
    assert r.exit_code == 0, r
    assert (v1 / "notes.txt").read_text() == "my notes"
    assert dated.read_text() == "last year's figures"
    assert (fresh / "draft.md").read_text() == "draft"
    assert (tmp_like / "summary.json").read_text() == '{"mine": true}'
    assert _scenario_of(out) == "small"


def test_finding1_a_killed_runs_marked_folder_is_removed_an_unmarked_or_forged_one_kept(cli, make_scenario,
                                                                                        tmp_path):
    from planner.ownership import MARKER, mark, new_token

    out = tmp_path / "out"
    stale = tmp_path / ".out.tmp-999999999-k1"  # a folder a killed planner run wrote: valid marker, PID gone
    stale.mkdir()
    mark(stale, "report", new_token())
    (stale / "summary.json").write_text("{}")
    garbled = tmp_path / ".out.tmp-999999998-k2"  # a marker that is not planner's
    garbled.mkdir()
    (garbled / MARKER).write_text("not json")
    (garbled / "keep.txt").write_text("keep")
    linked = tmp_path / ".out.old-999999997-k3"  # a link to a marked folder elsewhere: never followed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mark(elsewhere, "report", new_token())
    linked.symlink_to(elsewhere)

    assert cli("run", make_scenario(), "--out", out).exit_code == 0
    assert not stale.exists()
    assert (garbled / "keep.txt").read_text() == "keep"
    assert linked.is_symlink() and (elsewhere / MARKER).exists()


# ---------------------------------------------------------------- finding 2: another tool's folder


def test_finding2_another_tools_summary_and_report_are_kept_and_the_run_refused(cli, make_scenario, tmp_path,
                                                                              spare_dir):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "summary.json").write_text('{"tool": "other"}')
    (out / "report.html").write_text("<p>their report</p>")

    line = one_error_line(cli("run", make_scenario(), "--out", out))
    assert str(out) in line and "planner" in line and "not a previous report" in line
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json"]
    assert (out / "summary.json").read_text() == '{"tool": "other"}'
    assert (out / "report.html").read_text() == "<p>their report</p>"
    assert not list(spare_dir.iterdir())  # refused before any work: no results went elsewhere
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_finding2_a_planner_report_with_a_users_file_added_is_kept(cli, make_scenario, tmp_path, spare_dir):
    out = tmp_path / "out"
    assert cli("run", make_scenario(), "--out", out).exit_code == 0
    (out / "notes.txt").write_text("my notes on this report")
    line = one_error_line(cli("run", make_scenario(), "--out", out))
    assert "notes.txt" in line
    assert (out / "notes.txt").read_text() == "my notes on this report"
    assert not list(spare_dir.iterdir())


def test_finding2_rerunning_into_planners_own_report_folder_replaces_it(cli, make_scenario, tmp_path):
    out = tmp_path / "out"
    assert cli("run", make_scenario(name="first"), "--out", out).exit_code == 0
    assert _scenario_of(out) == "first"
    assert cli("run", make_scenario(name="second"), "--out", out).exit_code == 0
    assert _scenario_of(out) == "second"
    assert {p.name for p in out.iterdir()} >= set(REPORT)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_finding2_sweep_output_follows_the_same_rules(cli, make_scenario, tmp_path, spare_dir):
    path = make_scenario()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sweep.csv").write_text("a,b\n1,2\n")
    line = _error_line(cli("sweep", path, "--set", "fleet[0].units=32,64", "--out", theirs))
    assert str(theirs) in line and "not a previous sweep of planner" in line
    assert (theirs / "sweep.csv").read_text() == "a,b\n1,2\n"
    assert not list(spare_dir.iterdir())

    mine = tmp_path / "mine"
    assert cli("sweep", path, "--set", "fleet[0].units=32,64", "--out", mine).exit_code == 0
    assert cli("sweep", path, "--set", "fleet[0].units=16,32,64", "--out", mine).exit_code == 0
    assert len((mine / "sweep.csv").read_text().splitlines()) == 1 + 3
    run = tmp_path / "run"  # a run's report is not a sweep's folder: not replaced by one
    assert cli("run", path, "--out", run).exit_code == 0
    line = _error_line(cli("sweep", path, "--set", "fleet[0].units=32,64", "--out", run))
    assert "planner's report output" in line and (run / "summary.json").exists() and not (run / "sweep.csv").exists()


# ---------------------------------------------------------------- finding 3: overwrite by name


def test_finding3_names_differing_in_punctuation_write_different_folders(cli, make_scenario, tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = make_scenario(name="cost plan 2025")
    b = make_scenario(name="cost-plan-2025")
    assert cli("run", a).exit_code == 0
    assert cli("run", b).exit_code == 0
    folders = sorted((tmp_path / "reports").iterdir())
    assert len(folders) == 2
    assert sorted(_scenario_of(f) for f in folders) == ["cost plan 2025", "cost-plan-2025"]
    assert (tmp_path / "reports" / "cost-plan-2025").is_dir()  # a name that is its own slug keeps it


def test_finding3_long_names_sharing_the_first_100_characters_differ(cli, make_scenario, tmp_path, monkeypatch):
    from planner.report.writer import default_folder_name

    monkeypatch.chdir(tmp_path)
    first = "p" * 100 + "-" + "a" * 19
    second = "p" * 100 + "-" + "b" * 19
    assert len(first) == 120
    assert default_folder_name(first) != default_folder_name(second)
    assert cli("run", make_scenario(name=first)).exit_code == 0
    assert cli("run", make_scenario(name=second)).exit_code == 0
    assert sorted(_scenario_of(f) for f in (tmp_path / "reports").iterdir()) == [first, second]


def test_finding3_default_folders_of_runs_and_sweeps_and_letter_case_cannot_collide():
    from planner.report.writer import default_folder_name

    names = ["cost plan 2025", "cost-plan-2025", "Cost-Plan-2025", "x-sweep", "x", "x-sensitivity", ".x", "x."]
    folders = [default_folder_name(n) for n in names]
    runs = {f.lower() for f in folders}
    sweeps = {(f + "-sweep").lower() for f in folders}
    sens = {(f + "-sensitivity").lower() for f in folders}
    assert len(runs) == len(names) and not runs & sweeps and not runs & sens  # even where case is ignored
    assert default_folder_name("x") == "x" and default_folder_name("cost-plan-2025") == "cost-plan-2025"


def test_finding3_out_through_a_symlink_writes_into_its_target(cli, make_scenario, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    r = cli("run", make_scenario(), "--out", link)
    assert r.exit_code == 0, r
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert _scenario_of(target) == "small"
    assert cli("run", make_scenario(name="again"), "--out", link).exit_code == 0  # its own report: replaced
    assert link.is_symlink() and _scenario_of(target) == "again"


def test_finding3_a_symlink_loop_as_out_is_refused(cli, make_scenario, tmp_path, spare_dir):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    line = one_error_line(cli("run", make_scenario(), "--out", loop))
    assert str(loop) in line and loop.is_symlink()
    assert not list(spare_dir.iterdir())


def test_an_empty_folder_made_for_the_report_keeps_its_permissions(cli, make_scenario, tmp_path):
    """``mkdir priv && chmod 700 priv``: the report goes there and the folder stays private (it became 755)."""
    out = tmp_path / "priv"
    out.mkdir()
    os.chmod(out, 0o700)
    assert cli("run", make_scenario(), "--out", out).exit_code == 0
    assert (out / "summary.json").exists()
    assert os.stat(out).st_mode & 0o777 == 0o700


def test_a_new_report_folder_follows_the_umask(make_scenario, tmp_path):
    """Under ``umask 077`` the folder is private too, as ``mkdir`` makes it (it was 755 whatever the umask)."""
    import subprocess
    import sys

    out = tmp_path / "new"
    code = ("import os, sys; os.umask(0o077); from planner.cli import main; sys.argv = ['planner', 'run', "
            f"{str(make_scenario())!r}, '--out', {str(out)!r}]; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert (out / "summary.json").exists(), r.stderr
    assert os.stat(out).st_mode & 0o777 == 0o700


@pytest.mark.parametrize("edit", ["replace", "fifo"])
def test_a_report_file_changed_since_planner_wrote_it_is_kept(cli, make_scenario, tmp_path, edit, spare_dir):
    """A workbook saved from Excel over report.xlsx (a new file of the same name) was deleted by the next run."""
    out = tmp_path / "out"
    assert cli("run", make_scenario(name="first"), "--out", out).exit_code == 0
    target = out / ("report.xlsx" if edit == "replace" else "events.csv")
    target.unlink()
    if edit == "replace":
        target.write_text("the user's own workbook")
    else:
        os.mkfifo(target)
    r = cli("run", make_scenario(name="second"), "--out", out)
    line = one_error_line(r)
    assert r.exit_code == 2, r
    assert ("report.xlsx changed since planner wrote it, so the folder is kept" in line if edit == "replace"
            else "not a previous report of planner (events.csv)" in line)
    assert _scenario_of(out) == "first"
    if edit == "replace":
        assert target.read_text() == "the user's own workbook"
    assert not list(spare_dir.iterdir())  # refused before the run: its results are nowhere


def test_a_report_missing_a_file_is_still_planners_to_replace(cli, make_scenario, tmp_path):
    out = tmp_path / "out"
    assert cli("run", make_scenario(name="first"), "--out", out).exit_code == 0
    (out / "report.xlsx").unlink()
    assert cli("run", make_scenario(name="second"), "--out", out).exit_code == 0
    assert _scenario_of(out) == "second"


_SWAP_SIGNAL = """
import os, signal, sys
from pathlib import Path
from planner import ownership
out = Path(sys.argv[1])
ownership.write_folder(out, "run", ["a.txt"], lambda f: (f / "a.txt").write_text("old"))
real, sent = os.rename, []
def rename(a, b):
    if not sent:  # the first rename of the swap: the signal arrives now (held through the swap)
        sent.append(1)
        os.kill(os.getpid(), signal.SIGINT)
    return real(a, b)
os.rename = rename
try:
    ownership.write_folder(out, "run", ["a.txt"], lambda f: (f / "a.txt").write_text("new"))
except KeyboardInterrupt:
    print("interrupted", len(sent))
"""


def test_a_signal_during_the_swap_leaves_no_hidden_copy_of_the_previous_report(tmp_path):
    """SIGINT, SIGTERM or SIGHUP as the new report took the old one's place.

    The signal, held through the renames, was delivered before the previous report was discarded: exit 130, the
    new report in place and a whole copy of the old one left beside it as ``.o.old-*``. (In a new interpreter: the
    signals are held in the main thread only, and a test worker may run tests in another.)
    """
    import subprocess
    import sys

    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-c", _SWAP_SIGNAL, str(out)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert p.stdout.strip() == "interrupted 1", (p.stdout, p.stderr)
    assert (out / "a.txt").read_text() == "new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["o"]


def test_a_report_of_an_older_marker_with_a_file_added_is_refused_before_the_run(cli, make_scenario, tmp_path,
                                                                                  spare_dir):
    """A marker of a planner that listed no files, and the user's notes beside the report.

    The early check let the folder through, and the run was refused only after its work (its results in the
    temporary folder).
    """
    from planner.ownership import MARKER

    out = tmp_path / "out"
    assert cli("run", make_scenario(), "--out", out).exit_code == 0
    marker = json.loads((out / MARKER).read_text())
    marker.pop("files")
    (out / MARKER).write_text(json.dumps(marker))
    (out / "notes.txt").write_text("mine")
    line = one_error_line(cli("run", make_scenario(), "--out", out))
    assert "notes.txt" in line and "results were written" not in line
    assert not list(spare_dir.iterdir()) and (out / "notes.txt").read_text() == "mine"


def test_each_command_writes_the_files_its_kind_names(cli, make_scenario, tmp_path):
    """planner/kinds.py OUTPUT_FILES is what the early check compares a folder with: the files each writes."""
    from planner.kinds import OUTPUT_FILES
    from planner.ownership import MARKER

    path = make_scenario()
    for kind, args in (("report", ("run",)), ("sweep", ("sweep", "--set", "fleet[0].units=32,64")),
                       ("sensitivity", ("sensitivity",))):
        out = tmp_path / kind
        r = cli(*args[:1], path, *args[1:], "--out", out, "--replications", "1")
        assert r.exit_code == 0, r
        assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == sorted(OUTPUT_FILES[kind]), kind
