"""Work kept off a long-running server's process (the what-if app): what many sessions at once need.

- :func:`call`: one function in a child process forked from a fork server (a fresh single-threaded process,
  so forking from it is as safe as spawning, and cheap once it has imported ``configure(preload=...)``).
  The server's threads keep the interpreter while it computes, the child's memory goes back to the system
  when it ends, progress ``(done, total)`` crosses a pipe, and a child still running when the caller stops
  (an exception in the progress callback, a timeout) is killed with the processes it started.
- :class:`Slots`: a process-wide cap on concurrent calls (a ``threading.BoundedSemaphore``); a caller that
  has to wait is told so while it waits, and gives up after a bound.
- :class:`ResultCache`: answers kept pickled (each caller gets its own copy), bounded in entries, bytes and
  age; a key asked for by several callers at once is computed once.

Nothing here knows about Streamlit or the simulation: the app passes planner functions (importable by name,
so they cross to the child by reference) and their arguments.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import PlannerError

PROGRESS_EVERY_S = 0.1  # a child reports progress at most this often (and always the last step)


class ChildError(RuntimeError):
    """An internal error in the child: its type and message, and its traceback in ``details``."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


class BusyError(PlannerError):
    """Every slot stayed taken for as long as the caller may wait."""


class TimeLimitError(PlannerError):
    """A call took longer than its time limit and was stopped."""


# ---------------------------------------------------------------- one call in a child process

_PRELOAD: list[str] = []
_START = threading.Lock()  # the fork server starts once; its preload list is read when it starts
_LIVE: weakref.WeakSet = weakref.WeakSet()  # children still running: killed when this process exits


def configure(preload: Sequence[str] = ()) -> None:
    """Modules the fork server imports once, before its first child (``"__main__"``: the caller's script).

    Read when the server starts (the first :func:`call` of the process); later changes have no effect.
    """
    with _START:
        for name in preload:
            if name not in _PRELOAD:
                _PRELOAD.append(name)


def _context():
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not POSIX
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(_PRELOAD))
    return ctx


class _Progress:
    """The child's progress callback: ``(done, total)`` down the pipe, at most every PROGRESS_EVERY_S."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.last = 0.0

    def __call__(self, done: int, total: int | None = None, *_: Any) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S or (total is not None and done >= total):
            self.last = now
            self.conn.send(("progress", (done,) if total is None else (done, total)))


def _child(conn, fn: Callable, args: tuple, kwargs: dict, with_progress: bool) -> None:
    """The child's body: run ``fn``, send back ``("ok", value)``, ``("raise", error)`` or ``("error", ...)``."""
    if hasattr(os, "setpgid"):
        os.setpgid(0, 0)  # its own process group: a stop kills the processes it started too
    try:
        if with_progress:
            kwargs = {**kwargs, "progress": _Progress(conn)}
        message: tuple = ("ok", fn(*args, **kwargs))
    except PlannerError as exc:  # a user error crosses as itself (or as its text, if it cannot be pickled)
        try:
            pickle.loads(pickle.dumps(exc))
            message = ("raise", exc)
        except Exception:  # noqa: BLE001 - any pickling failure: the message is what the user reads
            message = ("raise", PlannerError(str(exc)))
    except BaseException as exc:  # noqa: BLE001 - whatever went wrong is reported, never lost
        message = ("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    try:
        conn.send(message)
    except Exception as exc:  # noqa: BLE001 - e.g. an answer that cannot be pickled
        conn.send(("error", (f"the answer could not be sent back: {type(exc).__name__}: {exc}",
                             traceback.format_exc())))
    finally:
        conn.close()


def _stop(proc) -> None:
    """Kill a child that is still running, with the processes it started; reap it."""
    if proc.pid is not None and proc.is_alive():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (AttributeError, ProcessLookupError, PermissionError):  # pragma: no cover - no group yet
            proc.kill()
    proc.join()


@atexit.register
def _stop_all() -> None:  # runs before multiprocessing's own exit handler, which would wait for them
    for proc in list(_LIVE):
        _stop(proc)


def call(fn: Callable, *args: Any, progress: Callable[[int, int], None] | None = None,
         timeout_s: float | None = None, poll_s: float = 0.05, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a child process; its value, or the PlannerError it raised.

    ``fn`` must be importable by name (a module-level function of the planner). ``progress`` is called in
    this thread with ``(done, total)`` as the child reports it (``fn`` then receives a ``progress=``
    callback); an exception it raises stops the child. An internal error in the child is a
    :class:`ChildError` carrying the child's traceback; a call over ``timeout_s`` is stopped with a
    :class:`TimeLimitError`.
    """
    with _START:  # the fork server starts once, with the preload list as it is then
        ctx = _context()
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, fn, args, kwargs, progress is not None),
                           name=f"planner-{getattr(fn, '__name__', 'call')}")
        proc.start()
    _LIVE.add(proc)
    send.close()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            if receive.poll(poll_s):
                try:
                    kind, payload = receive.recv()
                except EOFError:
                    proc.join(5)
                    raise ChildError(f"the worker process ended without an answer (exit code {proc.exitcode})") \
                        from None
                if kind == "progress":
                    if progress is not None:
                        progress(*payload)
                    continue
                if kind == "ok":
                    return payload
                if kind == "raise":
                    raise payload
                raise ChildError(*payload)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeLimitError(f"stopped after {timeout_s:,.0f} s, the longest a run may take here; "
                                     "lower the replications, or use `planner run`")
            if not proc.is_alive() and not receive.poll():
                raise ChildError(f"the worker process ended without an answer (exit code {proc.exitcode})")
    finally:
        receive.close()
        _stop(proc)
        _LIVE.discard(proc)


# ---------------------------------------------------------------- memory back to the system

_TRIMMER: list[threading.Thread] = []


def trim_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``); False where there is no glibc.

    A server whose sessions run in threads frees a session's tables when it closes, but glibc keeps the
    freed pages of each thread's arena for later; this returns them.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False


def start_trimming(every_s: float = 30.0) -> None:
    """Call :func:`trim_memory` every ``every_s`` seconds in a daemon thread (one per process, started once)."""
    with _START:
        if _TRIMMER:
            return

        def loop() -> None:
            while True:
                time.sleep(every_s)
                trim_memory()

        thread = threading.Thread(target=loop, name="planner-trim-memory", daemon=True)
        thread.start()
        _TRIMMER.append(thread)


# ---------------------------------------------------------------- a cap on concurrent calls


class Slots:
    """At most ``n`` holders at once (a ``threading.BoundedSemaphore``), shared by every thread of the process."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self._sem = threading.BoundedSemaphore(self.n)
        self._lock = threading.Lock()
        self.running = 0
        self.waiting = 0

    @contextmanager
    def hold(self, on_wait: Callable[[float, int], None] | None = None, timeout_s: float | None = None,
             poll_s: float = 0.25) -> Iterator[float]:
        """Hold a slot for the ``with`` block; yields the seconds waited for it.

        While every slot is taken, ``on_wait(seconds waited, callers waiting)`` is called about every
        ``poll_s`` (the caller says that it waits; an exception it raises gives up); after ``timeout_s`` a
        :class:`BusyError`.
        """
        t0 = time.monotonic()
        if not self._sem.acquire(blocking=False):
            with self._lock:
                self.waiting += 1
            try:
                while True:
                    waited = time.monotonic() - t0
                    if timeout_s is not None and waited >= timeout_s:
                        raise BusyError(
                            f"the server is busy: {self.running} run(s) in progress, at most {self.n} at once, and "
                            f"none ended within {timeout_s:,.0f} s; try again in a minute")
                    if on_wait is not None:
                        on_wait(waited, self.waiting)
                    wait = poll_s if timeout_s is None else max(0.0, min(poll_s, timeout_s - waited))
                    if self._sem.acquire(timeout=wait):
                        break
            finally:
                with self._lock:
                    self.waiting -= 1
        with self._lock:
            self.running += 1
        try:
            yield time.monotonic() - t0
        finally:
            with self._lock:
                self.running -= 1
            self._sem.release()


_SLOTS: dict[int, Slots] = {}
_SLOTS_LOCK = threading.Lock()


def slots(n: int) -> Slots:
    """The process-wide :class:`Slots` of size ``n`` (the same object for every caller that asks for ``n``)."""
    with _SLOTS_LOCK:
        if n not in _SLOTS:
            _SLOTS[n] = Slots(n)
        return _SLOTS[n]


# ---------------------------------------------------------------- a bounded cache of answers


class ResultCache:
    """Answers by key, kept pickled: at most ``max_entries`` and ``max_bytes``, each for ``ttl_s`` seconds.

    The least recently used entries go first. An answer over ``max_entry_bytes`` (a quarter of the whole by
    default) is not kept: the caller has it, and it would push out many small ones.
    """

    def __init__(self, max_entries: int, max_bytes: int, ttl_s: float, max_entry_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max(0, int(max_entries))
        self.max_bytes = max(0, int(max_bytes))
        self.max_entry_bytes = self.max_bytes // 4 if max_entry_bytes is None else int(max_entry_bytes)
        self.ttl_s = float(ttl_s)
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, list] = {}  # key -> [lock, callers using it]
        self.hits = self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    @property
    def nbytes(self) -> int:
        """The bytes held (the pickled answers)."""
        with self._lock:
            self._expire()
            return self._bytes

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, (t, _) in self._items.items() if now - t > self.ttl_s]:
            self._drop(key)

    def _drop(self, key: Hashable) -> None:
        _, data = self._items.pop(key)
        self._bytes -= len(data)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """A new copy of the answer kept for ``key``, or ``default``."""
        with self._lock:
            self._expire()
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return default
            self._items.move_to_end(key)
            self.hits += 1
            data = item[1]
        return pickle.loads(data)

    def put(self, key: Hashable, value: Any) -> bool:
        """Keep ``value`` for ``key``; False when it is too large to keep."""
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > min(self.max_entry_bytes, self.max_bytes) or self.max_entries == 0:
            return False
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (self._clock(), data)
            self._bytes += len(data)
            self._expire()
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                self._drop(next(iter(self._items)))
        return True

    def clear(self) -> None:
        """Drop every answer."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The answer for ``key``: kept, or computed once however many callers ask for it at once."""
        missing = object()
        value = self.get(key, missing)
        if value is not missing:
            return value
        with self._lock:
            entry = self._computing.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:  # a second caller waits for the first one's answer
                value = self.get(key, missing)
                if value is missing:
                    value = compute()
                    self.put(key, value)
                return value
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    self._computing.pop(key, None)


_CACHES: dict[tuple, ResultCache] = {}


def result_cache(max_entries: int, max_bytes: int, ttl_s: float, max_entry_bytes: int | None = None) -> ResultCache:
    """The process-wide :class:`ResultCache` with these bounds (the same object for every caller)."""
    key = (int(max_entries), int(max_bytes), float(ttl_s), None if max_entry_bytes is None else int(max_entry_bytes))
    with _SLOTS_LOCK:
        if key not in _CACHES:
            _CACHES[key] = ResultCache(*key)
        return _CACHES[key]
