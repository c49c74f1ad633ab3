"""Calibration error of the cost model against the shipped published runs (target: MAPE <= 10%)."""

from planner.calibrate import calibrate

rows, mape = calibrate()
for r in rows:
    print(f"{r.id:5s} {r.chip:12s} {r.units:6d} {r.metric:22s} published {r.published:8.3f} "
          f"predicted {r.predicted:8.3f} error {r.error:+6.1%}")
print(f"MAPE {mape:.1%} over {len(rows)} cases, {len({r.chip for r in rows})} chip classes")
