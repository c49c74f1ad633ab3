"""Output folders planner owns: written whole or not at all, and only what planner wrote is removed.

Every folder planner writes (a report, a sweep's or a sensitivity's output, and the temporary and backup
folders beside them) holds a marker file, ``.planner-owned``: JSON with ``owner: "planner"``, the
``kind`` of folder, a random ``token`` and what wrote it (planner version, process id, host, time).

* A target folder is replaced only when it is missing, empty, or holds a valid marker of the same kind
  and no file but the ones that kind writes, each as planner wrote it (the marker's ``files``: size and
  SHA-256, ``seal``): a folder planner wrote before. Anything else is refused
  with one line naming the folder and why; the new results go to a fresh folder under the system's
  temporary folder and the message names it.
* ``--out`` given as a symbolic link writes into the link's target (the link stays); a link that does
  not resolve to a folder path (a loop) is refused.
* The new folder is written as ``.NAME.tmp-PID-XXXX`` next to the target and renamed into place; a
  previous folder is first renamed to ``.NAME.old-PID-XXXX`` and deleted after. Either is deleted only
  when its marker holds the token this process wrote (or read from the folder it replaces).
* ``.NAME.tmp-PID-*`` / ``.NAME.old-PID-*`` siblings left by a killed run are removed by the next run
  only when they are real folders holding a valid planner marker and their process is gone (on
  another host's marker: older than an hour). A folder or file without a marker is never removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

from .errors import ReportError, one_line

MARKER = ".planner-owned"
STEM_BYTES = 180  # of the target's name in temporary siblings: .NAME.tmp-PID-XXXX must fit NAME_MAX (255 bytes)
STALE_AFTER_S = 3600.0  # a marked sibling written on another host is left over when it is this old
_MAX_MARKER_BYTES = 65536  # a marker with its files' manifest (``seal``): tens of names, a digest each
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _stem(name: str) -> str:
    """The target's name as its temporary siblings start: its first STEM_BYTES bytes, whole characters only.

    Cut by bytes, not characters: 62 four-byte characters (248 bytes, a valid name) made a sibling too long.
    """
    data = name.encode("utf-8", "surrogateescape")
    return data[:STEM_BYTES].decode("utf-8", "ignore") if len(data) > STEM_BYTES else name


def new_token() -> str:
    """A random token for one folder this process writes."""
    return secrets.token_hex(16)


def _version() -> str:
    try:
        from . import __version__
    except ImportError:  # pragma: no cover - a partial install
        return "unknown"
    return str(__version__)


def mark(folder: Path, kind: str, token: str) -> None:
    """Write ``folder/.planner-owned`` (a new file: never over an existing one, never through a link)."""
    text = json.dumps({"owner": "planner", "kind": kind, "token": token, "planner_version": _version(),
                       "pid": os.getpid(), "host": socket.gethostname(),
                       "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, sort_keys=True)
    fd = os.open(folder / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def _digest(path: Path) -> tuple[int, str] | None:
    """(size, SHA-256) of a regular file, no link followed; None for anything else (a FIFO is not opened to wait)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return st.st_size, h.hexdigest()


def seal(folder: Path, token: str) -> None:
    """Add to ``folder``'s marker the size and digest of every file in it, as written (``changed_files`` reads them).

    A report file the user replaced since (a workbook saved from Excel over report.xlsx) is then not planner's to
    delete: a rerun deleted it.
    """
    marker = read_marker(folder)
    if marker is None or marker["token"] != token:
        return
    files = {}
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if p.name != MARKER and (d := _digest(p)) is not None:
            files[p.name] = [d[0], d[1]]
    part = folder / f"{MARKER}.{token}"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({**marker, "files": files}, sort_keys=True) + "\n")
    os.replace(part, folder / MARKER)


def changed_files(folder: Path, marker: dict) -> list[str]:
    """The files of ``folder`` that are not as planner wrote them, by its marker's manifest ([] without one).

    A marker of an older planner lists no files: its folder is judged by its names alone, as before.
    """
    files = marker.get("files")
    if not isinstance(files, dict):
        return []
    out = []
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if p.name == MARKER:
            continue
        want = files.get(p.name)
        got = _digest(p)
        if got is None or not isinstance(want, list) or list(got) != want:
            out.append(p.name)
    return out


def read_marker(folder: Path) -> dict | None:
    """The folder's planner marker, or None when it has none that is valid (missing, a link, not planner's)."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return None
        # no link followed; a FIFO named like the marker does not block the open
        fd = os.open(folder / MARKER, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            raw = f.read(_MAX_MARKER_BYTES + 1)
            if len(raw) > _MAX_MARKER_BYTES:
                return None
            data = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and data.get("owner") == "planner" and isinstance(data.get("kind"), str)
            and isinstance(data.get("token"), str) and _TOKEN.match(data["token"])):
        return None
    return data


def owned_by(folder: Path, token: str) -> bool:
    """Whether ``folder`` (a real folder, not a link) holds a planner marker with this token."""
    m = read_marker(folder)
    return m is not None and m["token"] == token


def discard(folder: Path, token: str) -> None:
    """Delete ``folder`` if its marker holds ``token``; otherwise only if it is empty (never anything else)."""
    if owned_by(folder, token):
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _discard_new(folder: Path, token: str) -> None:
    """``discard`` a folder this process just made; one whose marker was cut short goes if nothing else is in it."""
    discard(folder, token)
    if os.path.lexists(folder) and [p.name for p in folder.iterdir()] == [MARKER] and read_marker(folder) is None:
        (folder / MARKER).unlink(missing_ok=True)
        discard(folder, token)


# ---------------------------------------------------------------- the target


def resolve_target(out_dir: str | Path) -> Path:
    """The absolute folder to write; a symbolic link given as the folder stands for its target."""
    out = Path(os.path.abspath(out_dir))
    if len(out.name.encode("utf-8", "surrogateescape")) > 255:  # (first: a longer name cannot even be looked at)
        raise ReportError(f"{out.name[:40]}…: the folder name is longer than 255 bytes; choose a shorter --out")
    if out.is_symlink():
        real = Path(os.path.realpath(out))
        if real.is_symlink():
            raise ReportError(f"{out}: the symbolic link does not lead to a folder path (a loop); "
                              "choose another --out")
        if real.exists() and not real.is_dir():
            raise ReportError(f"{out}: the symbolic link leads to {real}, which is not a folder; choose another --out")
        out = real
    if out == out.parent:
        raise ReportError(f"{out}: cannot replace the root folder")
    if len(out.name.encode("utf-8", "surrogateescape")) > 255:  # (a link's target)
        raise ReportError(f"{out.name[:40]}…: the folder name is longer than 255 bytes; choose a shorter --out")
    return out


def refuse_inputs(out_dir: str | Path, inputs: Collection[str | Path]) -> None:
    """Raise ReportError when the folder ``out_dir`` names holds one of the files a command reads (``inputs``).

    Replacing the folder would delete them: a scenario saved as a previous report's summary.json, or a delivery
    sheet saved as its schedule.csv, passed every other check (their names are a report's).
    """
    out = Path(os.path.realpath(os.path.abspath(out_dir)))  # (a link stands for its target, as resolve_target has it)
    for f in inputs:
        real = Path(os.path.realpath(f))
        if real == out or real.is_relative_to(out):
            raise ReportError(f"{out}: holds {real.relative_to(out) if real != out else real.name}, which this "
                              "command reads, so it is kept; choose another --out")


def refuse_early(out_dir: str | Path, kind: str) -> None:
    """Raise ReportError before any work when ``out_dir`` is not planner's to replace (``check_target``).

    Found after the work, a refused folder cost the whole run and left its results under the system's temporary
    folder (``write_folder``'s fallback), a folder a run in CI never removes. The check at the write still runs:
    the folder may change meanwhile.
    """
    from .kinds import OUTPUT_FILES

    try:
        check_target(resolve_target(out_dir), kind, OUTPUT_FILES.get(kind))
    except ReportError:
        raise
    except OSError as exc:  # (what cannot be looked at here fails at the write, which says where the results went)
        if exc.errno == errno.ENAMETOOLONG:
            raise ReportError(f"{str(out_dir)[:60]}…: the folder path is too long; choose a shorter --out") from None


def _listed(names: list[str]) -> str:
    # each name cut to 40 characters: five long names pushed the rest of the message (where the results went) out
    return ", ".join(n if len(n) <= 40 else n[:39] + "…" for n in names[:5]) + (" ..." if len(names) > 5 else "")


def _is_cwd(out: Path) -> bool:
    """Whether ``out`` is the current folder (False when either cannot be looked at)."""
    try:
        return os.path.samefile(out, os.getcwd())
    except OSError:
        return False


def check_target(out: Path, kind: str, files: Collection[str] | None) -> str | None:
    """None when ``out`` is missing or an empty folder; the marker's token when planner may replace it.

    Raises ReportError (one line: the folder and why) for anything else. ``files`` None: the folder's files are
    checked against those its marker lists (``refuse_early``, before the command knows its own).
    """
    if _is_cwd(out):  # (`--out ''` or `--out .`: an empty folder there was swapped whole, the shell left in none)
        raise ReportError(f"{out}: is the current folder, and a report replaces its whole folder; choose another --out")
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None  # a parent is a file: creating the folder fails and says so
    if stat.S_ISLNK(st.st_mode):
        raise ReportError(f"{out}: is a symbolic link (it changed while writing); choose another --out")
    if not stat.S_ISDIR(st.st_mode):
        raise ReportError(f"{out}: exists and is not a folder; choose another --out")
    entries = sorted(out.iterdir(), key=lambda p: p.name)
    if not entries:
        return None
    names = [p.name for p in entries]
    marker = read_marker(out)
    if marker is None:
        raise ReportError(
            f"{out}: the folder holds files that are not a previous {kind} of planner ({_listed(names)}; no "
            f"valid {MARKER} marker), so it is kept; choose a new or empty folder for --out")
    if marker["kind"] != kind:
        raise ReportError(f"{out}: the folder holds planner's {marker['kind']} output, not a {kind} folder, so it "
                          "is kept; choose a new or empty folder for --out")
    if files is None:  # the files the marker says planner wrote there (an older marker lists none: not checked)
        files = list(marker["files"]) if isinstance(marker.get("files"), dict) else None
    others = [p.name for p in entries if files is not None and p.name != MARKER and (
        p.name not in files or p.is_dir() or p.is_symlink() or not p.is_file())]
    if others:
        raise ReportError(
            f"{out}: the folder holds files that are not a previous {kind} of planner ({_listed(others)}), "
            "so it is kept; move them out or choose a new or empty folder for --out")
    changed = changed_files(out, marker)
    if changed:
        raise ReportError(
            f"{out}: {_listed(changed)} changed since planner wrote {'them' if len(changed) > 1 else 'it'}, so the "
            f"folder is kept; move {'them' if len(changed) > 1 else 'it'} out or choose a new or empty folder for "
            "--out")
    return marker["token"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def clean_stale(out: Path) -> None:
    """Remove marked ``.NAME.tmp-PID-*``/``.NAME.old-PID-*`` folders left by planner runs that were killed."""
    stem = _stem(out.name)
    pattern = re.compile(rf"^\.{re.escape(stem)}\.(?:tmp|old)-(\d+)-[A-Za-z0-9_]+$")
    try:
        siblings = list(out.parent.iterdir())
    except OSError:
        return
    here = socket.gethostname()
    for p in siblings:
        m = pattern.match(p.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        marker = read_marker(p)  # None for files, links and folders without planner's marker
        if marker is None:
            continue
        try:
            age = time.time() - os.lstat(p).st_mtime
        except OSError:
            continue
        gone = not _alive(int(m.group(1))) if marker.get("host") == here else age > STALE_AFTER_S
        if gone:
            discard(p, marker["token"])


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return exc.strerror or type(exc).__name__


# ---------------------------------------------------------------- writing


def write_folder(out_dir: str | Path, kind: str, files: Collection[str], write: Callable[[Path], None]) -> Path:
    """``write(folder)`` fills a new folder that then takes ``out_dir``'s place; returns the folder written.

    Atomic: either the target ends up holding the complete new folder, or (on any exception, which is
    re-raised) it is left as it was and no temporary folder remains. ``files`` are the names ``write``
    creates: a folder planner wrote holds only those and the marker.

    When the target cannot be written or is not planner's to replace, the ReportError names the folder,
    the reason and the folder under the system's temporary folder where the results were written instead
    (when even that fails, it says so).
    """
    try:
        return _write_atomic(out_dir, kind, files, write)
    except (ReportError, OSError) as exc:
        if isinstance(exc, OSError):
            reason = f"{out_dir}: {_os_reason(exc)}"
            if exc.filename and exc.filename != str(out_dir):
                reason = f"{out_dir}: cannot write {exc.filename}: {_os_reason(exc)}"
            advice = "; choose a writable --out"
        else:
            reason, advice = str(exc), ""
        spare, spare_token = None, new_token()
        try:
            spare = Path(tempfile.mkdtemp(prefix=f"planner-{kind}-"))
            mark(spare, kind, spare_token)
            write(spare)
            seal(spare, spare_token)
        except Exception:  # noqa: BLE001 - the second place failing too is reported, not raised
            if spare is not None:
                _discard_new(spare, spare_token)
            raise ReportError(f"cannot write the {kind}: {reason}; nor under {tempfile.gettempdir()}") from None
        # where the results went first: a long reason (a long --out, long names) is cut, never that
        raise ReportError(f"cannot write the {kind}; the results were written to {spare} instead: "
                          f"{one_line(reason, 600)}{advice}") from None


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new folder of a name no other has, with the mode a ``mkdir`` gives (the user's umask applies)."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue
    raise ReportError(f"{parent}: no new folder could be made there; choose another --out")


def _keep_attributes(out: Path, tmp: Path) -> None:
    """The folder that replaces ``out`` keeps its permissions (and owner and group, where allowed).

    An empty folder the user made for the report (``chmod 700``, a group of its own) stays as it was made.
    """
    try:
        st = os.lstat(out)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    os.chmod(tmp, stat.S_IMODE(st.st_mode))
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
    except OSError:  # another user's group: the folder is this user's, as any folder they make
        pass


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


@contextlib.contextmanager
def signals_held():
    """SIGINT, SIGTERM and SIGHUP wait until the block is done (in the main thread, where Python handles them)."""
    held = set(HELD_SIGNALS)
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _write_atomic(out_dir: str | Path, kind: str, files: Collection[str], write: Callable[[Path], None]) -> Path:
    out = resolve_target(out_dir)
    check_target(out, kind, files)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    stem = _stem(out.name)
    token = new_token()
    tmp = _new_folder(out.parent, f".{stem}.tmp-{os.getpid()}-")
    try:
        _keep_attributes(out, tmp)
        mark(tmp, kind, token)
        write(tmp)
        seal(tmp, token)
        previous = check_target(out, kind, files)  # may have changed while we wrote
        if previous is None:
            os.rename(tmp, out)  # replaces an empty folder; fails if one appeared with files in it
        else:
            old = out.parent / f".{stem}.old-{os.getpid()}-{secrets.token_hex(6)}"
            # the swap runs whole: a signal between its renames left the previous report hidden as .old-, and the
            # next run's clean_stale deleted it
            # (and the previous report goes inside it too: a signal held through the renames was delivered before
            # the discard, and left a whole copy of it hidden as .old- beside the new one)
            with signals_held():
                os.rename(out, old)
                try:
                    if not owned_by(old, previous):  # swapped for something else since the check: put it back
                        raise ReportError(f"{out}: the folder changed while writing, so it is kept; "
                                          "choose a new or empty folder for --out")
                    os.rename(tmp, out)
                except BaseException:
                    os.rename(old, out)  # put the previous folder back
                    raise
                discard(old, previous)
    except BaseException:
        _discard_new(tmp, token)
        raise
    return out


_DECIDE_SUFFIXES = ("-sweep", "-sensitivity")  # the CLI's default folders of sweeps and sensitivities
_NAME_CHARS = 100  # of the slug in a default folder name


def default_folder_name(scenario_name: str) -> str:
    """A file-name-safe folder name for a scenario that no other scenario name gives.

    The name itself when it is already a plain lower-case file name: ASCII letters, digits and ``._-``,
    at most 100 characters, not starting or ending with ``.`` or ``-``, and not ending in ``-sweep`` or
    ``-sensitivity`` (the CLI's ``reports/<folder>-sweep``). Any other name gets its slug (other characters
    as ``-``, cut to 100 characters) and a short hash of the exact name: "cost plan 2025" and
    "cost-plan-2025", two names sharing their first 100 characters, or two that differ only in letter case
    (one folder on a case-insensitive disk) each get their own folder.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario_name).strip(".-")[:_NAME_CHARS].strip(".-")
    if safe == scenario_name and safe == safe.lower() and not safe.endswith(_DECIDE_SUFFIXES):
        return safe
    digest = hashlib.sha256(scenario_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe or 'scenario'}-{digest}"
