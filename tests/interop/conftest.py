"""Both rnnkit engines for the interop tests."""

from __future__ import annotations

import pytest

from rnnkit import config


@pytest.fixture(params=["native", "xla"])
def engine(request):
    """Runs a test with rnnkit's native CPU loops on, then with the XLA kernels only."""
    before = config.native_kernels_enabled()
    config.set_native_kernels(request.param == "native")
    try:
        yield request.param
    finally:
        config.set_native_kernels(before)
