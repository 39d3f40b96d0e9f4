"""One numeric column of a CSV file as a time series, and sliding windows over it."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.errors import DataError


@dataclass
class Series:
    values: np.ndarray  # float64, in file order
    column: str
    path: str


def read_csv_column(path, column: str) -> Series:
    """The values of `column` (a header name) of the CSV file `path`, as floats.

    Raises DataError (one line) for a missing file, a missing header, an unknown column, or
    a cell that is not a number (its row and value are named)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    if p.is_dir():
        raise DataError(f"{p} is a directory; pass a CSV file")
    try:
        with p.open(newline="", encoding="utf-8-sig", errors="replace") as f:
            sample = f.read(8192)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            rows = list(csv.reader(f, dialect))
    except OSError as err:
        raise DataError(f"cannot read {p}: {err.strerror or err}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{p} is empty")
    header = [h.strip() for h in rows[0]]
    if column not in header:
        lowered = [h.lower() for h in header]
        if column.lower() in lowered:
            idx = lowered.index(column.lower())
        else:
            shown = ", ".join(repr(h) for h in header[:20])
            raise DataError(f"column {column!r} not found in {p}; its columns are: {shown}")
    else:
        idx = header.index(column)
    values = []
    for line_no, row in enumerate(rows[1:], start=2):
        cell = row[idx].strip() if idx < len(row) else ""
        try:
            v = float(cell)
        except ValueError:
            what = "an empty cell" if not cell else repr(cell)
            raise DataError(
                f"column {header[idx]!r} of {p} is not numeric: row {line_no} has "
                f"{what}; pick a numeric column (or fill the gaps)") from None
        if not math.isfinite(v):
            raise DataError(f"column {header[idx]!r} of {p} has a non-finite value {cell!r} "
                            f"at row {line_no}")
        values.append(v)
    if not values:
        raise DataError(f"column {header[idx]!r} of {p} has no values (only a header)")
    return Series(np.asarray(values, np.float64), header[idx], str(p))


def make_windows(values, window: int):
    """x[i] = values[i:i+window] (shape (n, window, 1)), y[i] = values[i+window] ((n, 1))."""
    values = np.asarray(values, np.float32)
    n = len(values) - window
    if window < 1:
        raise DataError(f"--window must be at least 1; received {window}")
    if n < 1:
        raise DataError(f"--window {window} is not shorter than the series ({len(values)} "
                        f"values); use a window of at most {max(len(values) - 10, 1)}")
    idx = np.arange(window)[None, :] + np.arange(n)[:, None]
    return values[idx][..., None], values[window:][:, None]
