"""Shared pytest configuration for the rnnkit test-suite."""

from __future__ import annotations

import jax
import pytest

# Strict shapes: implicit rank promotion in jax.numpy is an error, so a
# broadcasting slip inside rnnkit fails loudly instead of silently
# producing wrong shapes.
jax.config.update("jax_numpy_rank_promotion", "raise")
# float32 everywhere, like Keras' default floatx.
jax.config.update("jax_enable_x64", False)

import golden  # noqa: E402  (tests/ is on sys.path via pytest's rootdir insertion)


@pytest.fixture(scope="session")
def golden_dir():
    """Directory holding the Keras 3.15.1 golden cases (tests/fixtures/keras_golden)."""
    return golden.GOLDEN_DIR
