"""The frameworks' reference files (tests/fixtures/interop, copied from ../shared/interop)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"
INDEX = json.loads((FIXTURES / "index.json").read_text())
CASES = {c["name"]: c for c in INDEX["cases"]}
OUT_ATOL = 1e-5
WEIGHT_ATOL = 1e-6


def cases(kind):
    return sorted(name for name, c in CASES.items() if c["kind"] == kind)


def io_arrays(name):
    with np.load(FIXTURES / CASES[name]["files"]["io"], allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
