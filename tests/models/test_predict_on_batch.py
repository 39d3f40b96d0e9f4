"""predict_on_batch's repeat-call path: a NumPy batch whose (shape, dtype) already passed the
checks skips them; everything that could make the checks answer differently sends the call
back through them."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit import models as M


def _model(**lstm_kwargs):
    inp = L.Input((5, 3), batch_size=2 if lstm_kwargs.get("stateful") else None)
    return M.Model(inp, L.Dense(2)(L.LSTM(4, **lstm_kwargs)(inp)))


def _x(B=2, T=5, seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, 3)).astype(np.float32)


def test_repeat_calls_give_the_layer_call_result():
    model = _model()
    x = _x()
    first = model.predict_on_batch(x)
    again = model.predict_on_batch(x)  # the checked-batch path
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(again, np.asarray(model(x)), rtol=1e-6, atol=1e-6)
    assert isinstance(again, np.ndarray) and again.shape == (2, 2)


def test_a_new_shape_or_bad_dtype_is_still_checked():
    model = _model()
    model.predict_on_batch(_x())
    model.predict_on_batch(_x())
    with pytest.raises(ValueError, match=r"expects arrays of shape"):
        model.predict_on_batch(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(TypeError, match="numeric"):
        model.predict_on_batch(np.full((2, 5, 3), "a"))
    with pytest.raises(ValueError, match="0 samples"):
        model.predict_on_batch(np.zeros((0, 5, 3), np.float32))
    # a batch of another size is checked once, then served from the checked path too
    np.testing.assert_allclose(model.predict_on_batch(_x(B=3)), np.asarray(model(_x(B=3))),
                               rtol=1e-6, atol=1e-6)


def test_weights_set_between_calls_are_used():
    model = _model()
    x = _x()
    model.predict_on_batch(x)
    weights = [w * 0.5 for w in model.get_weights()]
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict_on_batch(x), np.asarray(model(x)),
                               rtol=1e-6, atol=1e-6)


def test_stateful_state_advances_on_every_call():
    model = _model(stateful=True)
    x1, x2 = _x(seed=1), _x(seed=2)
    model.predict_on_batch(x1)
    second = model.predict_on_batch(x2)  # the checked path must store the new state
    third = model.predict_on_batch(x2)
    assert not np.allclose(second, third)
    # the same as one pass over the three chunks joined in time
    inp = L.Input((None, 3))
    whole = M.Model(inp, L.Dense(2)(L.LSTM(4)(inp)))
    whole.set_weights(model.get_weights())
    joined = np.concatenate([x1, x2, x2], axis=1)
    np.testing.assert_allclose(third, np.asarray(whole(joined)), rtol=1e-5, atol=1e-6)
    model.layers[1].reset_states()
    np.testing.assert_allclose(model.predict_on_batch(x1), np.asarray(whole(x1)),
                               rtol=1e-5, atol=1e-6)


def test_a_new_layer_structure_is_checked_again():
    model = M.Sequential([L.Input((5, 3)), L.LSTM(4)])
    model.predict_on_batch(_x())
    model.add(L.Dense(2))
    out = model.predict_on_batch(_x())
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, np.asarray(model(_x())), rtol=1e-6, atol=1e-6)
