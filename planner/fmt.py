"""Number formats for people: the CLI, the reports and the app share them."""

from __future__ import annotations

import math
from typing import Any

from .units import SECONDS_PER_HOUR


def num(value: Any) -> float | None:
    """``value`` as a finite float, or None."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _sig(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant digits (so 999.6 reads as the 1,000 it rounds to)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _scaled(x: float, factors: tuple, digits: int) -> tuple[float, str]:
    """(x over the largest factor at or below its rounded size, that factor's suffix); (x, '') below them all."""
    r = _sig(x, digits)
    for factor, suffix in factors:
        if abs(r) >= factor:
            return x / factor, suffix
    return x, ""


def _fixed(v: float, digits: int, group: str = "") -> str:
    """``digits`` significant digits without an exponent (a large value keeps its whole digits)."""
    if abs(_sig(v, digits)) >= 10 ** digits:
        return f"{v:{group}.0f}"
    return f"{_sig(v, digits):{group}.{digits}g}"


def fmt_si(x: float | None, unit: str = "", digits: int = 3) -> str:
    """1.23e9 -> '1.23 G' (with k, M, G, T, P); '—' for missing values."""
    if x is None or not math.isfinite(x):
        return "—"
    v, prefix = _scaled(x, ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")), digits)
    return f"{_fixed(v, digits)} {prefix}{unit}".rstrip()


def _suffixed(x: float | None, prefix: str) -> str:
    """A sum after ``prefix`` with a k/M/B/T suffix (3 significant digits), whole below a thousand."""
    if x is None or not math.isfinite(x):  # (no number: a missing cell, NaN in a table)
        return "—"
    v, suffix = _scaled(x, ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")), 3)
    if not suffix:
        return f"{prefix}{x:,.0f}"
    return f"{prefix}{_fixed(v, 3, ',')}{suffix}"


def fmt_usd(x: float | None) -> str:
    """Dollars with a k/M/B/T suffix."""
    return _suffixed(x, "$")


def fmt_money(x: float | None, code: str = "USD") -> str:
    """A sum in another currency, with its ISO code and a k/M/B/T suffix: 'CNY 7.5 B'."""
    return fmt_usd(x) if code == "USD" else _suffixed(x, f"{code} ")


def fmt_usd_and(x: float | None, code: str | None = None, per_usd: float | None = None) -> str:
    """Dollars, and the same sum in a second currency when one is given: '$1.06 B (CNY 7.5 B)'."""
    if x is None or code is None or per_usd is None:
        return fmt_usd(x)
    return f"{fmt_usd(x)} ({fmt_money(x * per_usd, code)})"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage."""
    return "—" if x is None else f"{x * 100:.{digits}f} %"


def fmt_days(x: float | None) -> str:
    """Days with one decimal."""
    return "—" if x is None else f"{x:,.1f} d"


def fmt_duration(hours: float) -> str:
    """A short duration in the unit that reads best: seconds under a minute, minutes under ten hours, else hours."""
    seconds = hours * SECONDS_PER_HOUR
    if seconds < 60:
        return f"{seconds:.2g} s"
    minutes = seconds / 60.0
    if minutes < 600:
        return f"{minutes:.2g} min" if minutes < 10 else f"{minutes:,.0f} min"
    return f"{hours:,.0f} h" if hours < 1e9 else f"{hours:.3g} h"  # (a 1e-300 GB/s storage printed 300 digits)


def fmt_chip_hour_price(price: float | None) -> str:
    """A rental's price per chip-hour; None, a price the file does not state, is not free (costs.unpriced)."""
    return "no stated price" if price is None else f"${price:,.2f}/chip-h"


def fmt_mwh(x: float | None) -> str:
    """Megawatt-hours as watt-hours with an SI prefix."""
    return fmt_si(x * 1e6 if x is not None else None, "Wh")


def fmt_chip_hours(x: float | None) -> str:
    """Chip-hours with an SI prefix."""
    return "—" if x is None else f"{fmt_si(x)} chip-h".replace("  ", " ")
