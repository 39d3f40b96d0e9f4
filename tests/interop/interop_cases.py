"""The frameworks' reference files in tests/fixtures/interop: `index.json` (copied from
../shared/interop) and `index_generated.json` (written by tools/make_keras_file_fixtures.py
with real Keras 3 on JAX: models with ConvLSTM layers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"
INDEXES = ("index.json", "index_generated.json")
CASES = {c["name"]: c for index in INDEXES
         for c in json.loads((FIXTURES / index).read_text())["cases"]}
OUT_ATOL = 1e-5
WEIGHT_ATOL = 1e-6


def cases(kind):
    return sorted(name for name, c in CASES.items() if c["kind"] == kind)


def io_arrays(name):
    with np.load(FIXTURES / CASES[name]["files"]["io"], allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
