"""How long the rest of a run takes, paced on the replications done after the first one reported.

The work before the first replication reports (the scenario's layouts, the strategy pick, the workers' start) is
not repeated, so a pace counted from the start overstates the rest many times over in a portfolio's first seconds;
the pace waits for PACE_SHARE of the replications (the workers' first ones are slow too).
The CLI's progress lines and the app's progress bars all ask here. A sweep's or a goal seek's points are whole runs
each (their start is small beside them): ``points_eta_s`` paces those from the start, once one point is done.
"""

from __future__ import annotations

# the least share of the replications a pace is measured over: the workers' first ones pay their own start
# (forking, their first layouts), and one of them alone would stand for a pace several times slower than the run's
PACE_SHARE = 0.02


class Pace:
    """``eta_s(done, total, now)``: seconds left, or None until enough replications give a pace."""

    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None  # (clock, replications done) at the first report

    def eta_s(self, done: int, total: int, now: float) -> float | None:
        """Seconds left at ``now`` [s, any clock] with ``done`` of ``total`` replications done."""
        if self._first is None:
            self._first = (now, done)
        t1, k1 = self._first
        if done >= total:
            return 0.0
        if done - k1 < max(2, PACE_SHARE * total) or now <= t1:
            return None
        return (total - done) * (now - t1) / (done - k1)


def points_eta_s(done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left of ``total`` whole runs with ``done`` of them done in ``elapsed_s``; None before the first."""
    if done >= total:
        return 0.0
    if done <= 0:
        return None
    return elapsed_s / done * (total - done)


def eta_text(eta_s: float | None) -> str:
    """The ETA as a progress line says it (never a number before there is a pace)."""
    return "ETA not known yet" if eta_s is None else f"ETA {eta_s:.0f} s"
