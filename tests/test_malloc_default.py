"""The allocator setting rnnkit applies for CPU training (rnnkit.config.set_malloc_tuning)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rnnkit import config


@pytest.fixture
def malloc_state(monkeypatch):
    state = dict(config._MALLOC)
    monkeypatch.setattr(config, "_MALLOC", state)
    return state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt only")
def test_training_applies_heap_mode(malloc_state):
    from rnnkit import layers as L
    from rnnkit import models

    malloc_state.update(tuned=None, user=None)
    m = models.Sequential([L.Input((4, 3)), L.LSTM(5), L.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.train_on_batch(np.zeros((2, 4, 3), np.float32), np.zeros((2, 1), np.float32))
    assert malloc_state["tuned"] in ("heap", "single_arena")


def test_user_opt_out_is_respected(malloc_state):
    malloc_state.update(tuned=None, user=None)
    assert config.set_malloc_tuning(False) is False
    assert config.malloc_tuning_for_training() is False
    assert malloc_state["tuned"] is None
