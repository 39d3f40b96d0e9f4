"""Step-by-step generation (`rnnkit.generate`): per-step outputs equal the full-sequence
call, greedy decoding is deterministic, sampling is reproducible with a seed."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
import rnnkit.generate
from rnnkit.generate import generate, initial_states, model_step
from rnnkit.layers import GRU, LSTM, RNN, Bidirectional, Dense, Embedding, GRUCell, SimpleRNN

V = 13


def _ids(batch=3, steps=7, seed=0):
    return np.random.default_rng(seed).integers(0, V, (batch, steps)).astype("int32")


def _per_step(model, x):
    states, outs = None, []
    for t in range(x.shape[1]):
        y, states = model_step(model, x[:, t], states)
        outs.append(np.asarray(y))
    return np.stack(outs, axis=1)


@pytest.fixture(scope="module")
def lstm_model():
    rnnkit.set_random_seed(1)
    return rnnkit.Sequential([rnnkit.Input(shape=(None,), dtype="int32"), Embedding(V, 8),
                              LSTM(16, return_sequences=True), Dense(V)])


def test_lstm_per_step_equals_full_sequence(lstm_model):
    x = _ids()
    full = np.asarray(lstm_model(x))
    np.testing.assert_allclose(_per_step(lstm_model, x), full, atol=1e-5)


def test_stacked_gru_per_step_equals_full_sequence():
    rnnkit.set_random_seed(2)
    model = rnnkit.Sequential([Embedding(V, 8), GRU(16, return_sequences=True),
                               GRU(16, return_sequences=True),
                               Dense(V, activation="softmax")])
    x = _ids(2, 6, seed=3)
    full = np.asarray(model(x))  # builds the model on first call
    np.testing.assert_allclose(_per_step(model, x), full, atol=1e-5)
    assert len(initial_states(model, 2)) == 2


def test_stacked_cells_and_float_inputs():
    rnnkit.set_random_seed(3)
    cells = rnnkit.Sequential([Embedding(V, 8), RNN([GRUCell(16), GRUCell(16)],
                                                    return_sequences=True), Dense(V)])
    x = _ids(2, 5, seed=4)
    np.testing.assert_allclose(_per_step(cells, x), np.asarray(cells(x)), atol=1e-5)
    # a feature model (no Embedding): one step is (batch, features)
    inp = rnnkit.Input(shape=(None, 3))
    func = rnnkit.Model(inp, Dense(V)(SimpleRNN(16, return_sequences=True)(inp)))
    xf = np.random.default_rng(5).normal(size=(2, 6, 3)).astype("float32")
    np.testing.assert_allclose(_per_step(func, xf), np.asarray(func(xf)), atol=1e-5)


def test_greedy_is_deterministic_and_matches_full_argmax(lstm_model):
    prompt = np.array([1, 2, 3], dtype="int32")
    a = generate(lstm_model, prompt, 6, greedy=True)
    b = generate(lstm_model, prompt, 6, greedy=True)
    assert a.shape == (6,) and a.dtype.kind == "i"
    np.testing.assert_array_equal(a, b)
    # the same ids from one whole-sequence call on prompt + generated ids
    seq = np.concatenate([prompt, a[:3]]).astype("int32")[None]
    logits = np.asarray(lstm_model(seq))[0]
    np.testing.assert_array_equal(np.argmax(logits[2:], axis=-1), a[:4])
    # top_k=1 sampling is greedy too
    np.testing.assert_array_equal(generate(lstm_model, prompt, 6, top_k=1, seed=9), a)


def test_sampling_seed_temperature_batch_and_callback(lstm_model):
    prompt = np.array([[1, 2], [3, 4]], dtype="int32")
    seen = []
    s1 = rnnkit.generate(lstm_model, prompt, 8, temperature=0.7, top_k=5, seed=123,
                         on_token=seen.append)
    s2 = rnnkit.generate.generate(lstm_model, prompt, 8, temperature=0.7, top_k=5, seed=123)
    assert s1.shape == (2, 8)
    np.testing.assert_array_equal(s1, s2)
    assert len(seen) == 8 and all(t.shape == (2,) for t in seen)
    assert s1.min() >= 0 and s1.max() < V
    assert rnnkit.generate.model_step is model_step  # documented helper on the module


def test_errors():
    rnnkit.set_random_seed(4)
    bi = rnnkit.Sequential([Embedding(V, 8), Bidirectional(GRU(16, return_sequences=True)),
                            Dense(V)])
    bi(_ids(1, 2))
    with pytest.raises(ValueError, match="Bidirectional"):
        generate(bi, [1, 2], 3)
    model = rnnkit.Sequential([Embedding(V, 8), GRU(16, return_sequences=True), Dense(V)])
    with pytest.raises(ValueError, match="temperature"):
        generate(model, [1], 3, temperature=0)
    with pytest.raises(ValueError, match="at least one id"):
        generate(model, [], 3)
    with pytest.raises(ValueError, match=r"\[0, 12\]"):
        generate(model, [V + 5], 3)
