"""Layer cases where rnnkit once differed from Keras (tests/fixtures/keras_crosscheck).

Each file was recorded from Keras 3.15.1 by `tools/keras_crosscheck.py` (see the fixtures'
README); here it is replayed on rnnkit alone, on the native and on the XLA engine.
"""

from __future__ import annotations

import pytest

import crosscheck_replay
from rnnkit import config

CASES = [p for p in crosscheck_replay.fixture_paths()
         if crosscheck_replay.load(p)[0]["kind"] == "layer"]


@pytest.mark.parametrize("native", [True, False], ids=["native", "xla"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_layer_case_matches_keras(path, native):
    cfg, arrays = crosscheck_replay.load(path)
    config.set_native_kernels(native)
    try:
        crosscheck_replay.check_case(cfg, arrays)
    finally:
        config.set_native_kernels(True)


def test_layer_cases_present():
    assert CASES, "tests/fixtures/keras_crosscheck holds no layer case"
