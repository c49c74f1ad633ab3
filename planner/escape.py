"""One escaping layer per medium: scenario text reaches spreadsheets, pages and terminals only through here.

Names, sites, descriptions and error messages that quote them are shown as inert text:

- spreadsheets (CSV and XLSX cells and headers): a text that starts like a formula gets a leading apostrophe
  (OWASP, "CSV Injection": =, +, -, @, tab, carriage return), so Excel and LibreOffice show it as text;
- every file (CSV, XLSX, HTML): the control characters a terminal never gets (below) are replaced there too, so a
  report read with ``cat`` or opened in a spreadsheet or a browser shows them inert; summary.json keeps the
  scenario's text as written (JSON escapes C0 itself), for the scripts that match names in it;
- HTML (the report, Plotly labels): ``html.escape`` with quotes (a double quote as ``&#34;``, which Plotly decodes
  where it leaves ``&quot;`` as written); free text that Plotly shows in a hover label
  (an event's detail) needs only ``&`` and ``<`` escaped (``plotly_text``), so ``15,832 -> 15,744 chips`` stays as
  written;
- Markdown (Streamlit, where a plain-text element cannot be used): every Markdown and HTML metacharacter
  backslash-escaped, so no link, image or tag is rendered from it;
- terminals: C0 and C1 control characters (ESC sequences, NUL, BEL ...) and DEL replaced by U+FFFD, so a
  name cannot set the title, move the cursor or erase lines; so are Unicode's bidirectional controls (Boucher and
  Anderson 2021, "Trojan Source", CVE-2021-42574: an override reorders what the rest of the line shows) and its
  line and paragraph separators (a one-line message stays one line).
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV Injection: what a spreadsheet reads as a formula
# Unicode's Bidi_Control characters (UAX #9: ALM, LRM, RLM, LRE..RLO, LRI..PDI) and the line and paragraph separators
_UNICODE_CONTROLS = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
# C0 controls except tab and newline, DEL and the C1 controls (ECMA-48: ESC [, CSI, OSC ... start sequences), and those
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_UNICODE_CONTROLS}]")
_CONTROL_ALL = re.compile(f"[\x00-\x1f\x7f-\x9f{_UNICODE_CONTROLS}]")  # the same and tab and newline: one-line text
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:=])")  # CommonMark punctuation that can start markup


def cell(value: Any) -> Any:
    """A CSV or XLSX cell (or header): a text that a spreadsheet would read as a formula becomes literal.

    Its control characters are replaced as a terminal's are (``terminal``): a CSV file is read in terminals too
    (``cat``, ``less -R``), and a bidirectional override reorders what a spreadsheet shows as much as a terminal.
    """
    if isinstance(value, str):
        value = _CONTROL.sub("\ufffd", value)
        if value.startswith(FORMULA_PREFIXES):
            return "'" + value
    return value


def cells(values):
    """``cell`` of each value (a header row, a column)."""
    return [cell(v) for v in values]


def text_column(series) -> bool:
    """Whether a pandas column may hold text: not numbers, booleans, dates or durations (object and str dtypes)."""
    from pandas.api import types

    return not (types.is_numeric_dtype(series) or types.is_bool_dtype(series)
                or types.is_datetime64_any_dtype(series) or types.is_timedelta64_dtype(series))


def frame(df):
    """A copy of a pandas DataFrame whose text cells and column names are spreadsheet-safe (``cell``).

    Columns are taken by position (two names may escape to the same text) and of any text dtype (pandas 3
    stores text as ``str``, not ``object``).
    """
    out = _map_text(df, cell)
    out.columns = [cell(c) for c in out.columns]
    return out


def _map_text(df, fn):
    """A copy of a pandas DataFrame with ``fn`` applied to every cell of its text columns (by position)."""
    out = df.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if text_column(column):
            out.isetitem(i, column.map(fn))
    return out


def inert(value: Any) -> Any:
    """A text with the control characters a terminal never gets replaced (``terminal``); anything else as it is."""
    return _CONTROL.sub("\ufffd", value) if isinstance(value, str) else value


def page_frame(df):
    """A copy of a pandas DataFrame for an HTML table: text cells and column names ``inert`` (pandas escapes markup)."""
    return _map_text(df, inert).rename(columns=inert)  # (each level's labels; the columns' own name stays a header)


def html(text: Any) -> str:
    """Text for an HTML page or a Plotly label: markup characters escaped (quotes too), controls replaced.

    A page saved as text, or its title in a terminal tab, would carry an ESC sequence; a bidirectional override
    reorders what the browser shows (``terminal``'s characters, each replaced by U+FFFD).
    """
    # a double quote as the numeric entity: a browser reads it as &quot;, Plotly (whose labels decode numeric entities
    # but not &quot;, plotly.js svg_text_utils) shows a quote where it showed "&quot;"
    return _html.escape(_CONTROL.sub("\ufffd", str(text)), quote=True).replace("&quot;", "&#34;")


def plotly_text(text: Any) -> str:
    """Free text for a Plotly label or hover text: ``&`` and ``<`` escaped, so no tag or entity is read from it.

    Plotly reads a tag only between ``<`` and ``>`` and an entity only after ``&``; ``>`` and quotes are inert
    there and stay as written. Names (legends, axis categories) go through :func:`html`, as on the page.
    """
    return _CONTROL.sub("\ufffd", str(text)).replace("&", "&amp;").replace("<", "&lt;")


# what a GitHub-flavoured renderer links by itself, escaped or not (autolink literals): a scheme's colon, ``www.``
# and an e-mail's ``@`` get an invisible WORD JOINER (U+2060) before them, so no bare URL or address becomes a link
# (and Streamlit's icon and logo codes: ``:material/warning:`` drew a warning icon in the answer sentence, its colons
# escaped or not, as Streamlit reads them after Markdown has taken the escapes out, and ``:material_home:`` too;
# ``:streamlit:`` its logo)
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|xmpp)(?=:)|\bwww(?=\.)|(?=@)|\bmaterial(?=[/_])|\bstreamlit(?=:))")


def markdown(text: Any) -> str:
    """Text inside Markdown (Streamlit): every character that could start a link, image, tag or emphasis escaped.

    Bare URLs, ``www.`` names, e-mail addresses and Streamlit's icon codes stay text too (``_AUTOLINK``); ``=`` too (a
    line of them under text made it a heading).
    """
    return _MARKDOWN.sub(r"\\\1", _AUTOLINK.sub("\\1\u2060", terminal(str(text), one_line=False)))


def terminal(text: Any, one_line: bool = False) -> str:
    """Text for a terminal: control characters (ESC sequences, NUL, BEL, DEL, C1, bidirectional) replaced by U+FFFD.

    ``one_line`` also replaces tabs and newlines (an error line stays one line).
    """
    return (_CONTROL_ALL if one_line else _CONTROL).sub("\ufffd", str(text))
