"""Write a command's output files into a folder whole or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import ReportError


def write_files(out_dir: str | Path, files: Mapping[str, Callable[[Path], None]]) -> Path:
    """Each ``name: write(path)`` into a temporary folder inside ``out_dir``, then moved in place."""
    out = Path(os.path.abspath(out_dir))
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: exists and is not a folder; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
    try:
        for name, write in files.items():
            write(tmp / name)
        for name in files:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
