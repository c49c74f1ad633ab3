"""How the pools train one model together: one small module per mode behind one interface (``base.Strategy``)."""

from .base import Context, Part, Plan, Strategy
from .modes import MODES, DiLoCo, Sequential, Single, Sync, options

__all__ = ["Context", "DiLoCo", "MODES", "Part", "Plan", "Sequential", "Single", "Strategy", "Sync", "options"]
