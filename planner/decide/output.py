"""Write a command's output files into a folder whole or not at all, replacing only planner's own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..ownership import write_folder


def write_files(out_dir: str | Path, files: Mapping[str, Callable[[Path], None]]) -> Path:
    """Each ``name: write(path)`` into a new folder that then takes ``out_dir``'s place (planner.ownership).

    The folder's kind is the first file's stem (``sweep`` for sweep.parquet, ...): ``out_dir`` is replaced
    only when it is missing, empty, or that kind's folder planner wrote before; otherwise the ReportError
    names it, why, and the temporary folder the files were written to instead.
    """
    kind = Path(next(iter(files))).stem

    def write(folder: Path) -> None:
        for name, make in files.items():
            make(folder / name)

    return write_folder(out_dir, kind, tuple(files), write)
