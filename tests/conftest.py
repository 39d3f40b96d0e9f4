"""Shared pytest configuration for the rnnkit test-suite."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import pytest

# tests/ mirrors the package (tests/core, tests/layers, tests/models, tests/cli, ...); the
# shared oracles live in tests/reference: the golden loader (`import golden`) and the NumPy
# reference (`import numpy_ref`). Test modules import them by plain name from any subfolder.
# Test folders have no __init__.py, so every test file name must be unique across tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent / "reference"))

# Strict shapes: implicit rank promotion in jax.numpy is an error, so a
# broadcasting slip inside rnnkit fails loudly instead of silently
# producing wrong shapes.
jax.config.update("jax_numpy_rank_promotion", "raise")
# float32 everywhere, like Keras' default floatx.
jax.config.update("jax_enable_x64", False)

import golden  # noqa: E402  (tests/reference is on sys.path, see above)


@pytest.fixture(scope="session")
def golden_dir():
    """Directory holding the Keras 3.15.1 golden cases (tests/fixtures/keras_golden)."""
    return golden.GOLDEN_DIR
