"""The `planner run` report: summary.json, CSV files, a self-contained HTML page and an Excel workbook.

Charts live in :mod:`planner.report.charts` as pure functions of the run's DataFrames so that the
Streamlit app and notebooks can draw the same figures.
"""

from __future__ import annotations

from .headline import Headline, expectation_rows, headline_items
from .html import render_html
from .tables import replication_stats, summary_json
from .writer import REPORT_FILES, ReportError, write_report

__all__ = [
    "REPORT_FILES",
    "Headline",
    "ReportError",
    "expectation_rows",
    "headline_items",
    "render_html",
    "replication_stats",
    "summary_json",
    "write_report",
]
