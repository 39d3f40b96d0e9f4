"""Fuzzing the public model API: compile/fit/evaluate/predict with random and bad arguments.

Every example ends in a correct result (history of finite losses, predictions of the right
shape equal to calling the model) or a clear ValueError/TypeError
(tests/reference/fuzz_support.py).
Models are built once per shape and reused, so compiling stays cheap. The tests at the end
aim at defects 3, 5 and 6 of issue 12 (they failed before those were fixed); the
`xfail(strict=True)` ones would be new findings, open, each saying what fails (none today).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import FUZZ, assert_clear, outcome
from rnnkit.layers import GRU, LSTM, Dense, Input, SimpleRNN
from rnnkit.models import Sequential

T, D, K = 3, 2, 2
_MODELS: dict = {}


def _model(kind, loss="mse"):
    """A compiled (Input(T, D) -> kind(3) -> Dense(K)) model, built once per kind and loss."""
    if (kind, loss) not in _MODELS:
        rnn = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}[kind]
        model = Sequential([Input((T, D)), rnn(3), Dense(K)])
        model.compile(optimizer="sgd", loss=loss)
        _MODELS[kind, loss] = model
    return _MODELS[kind, loss]


def _data(n, x_shape=None, y_shape=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape or (n, T, D)).astype("float32")
    y = rng.normal(size=y_shape or (n, K)).astype("float32")
    return x, y


GOOD_BATCH = [None, 1, 2, 3, 64, np.int64(2)]
BAD_BATCH = [-1, 0, 3.5, "2", [2]]


@FUZZ
@given(kind=st.sampled_from(["SimpleRNN", "LSTM", "GRU"]), n=st.integers(1, 5),
       batch_size=st.sampled_from(GOOD_BATCH + BAD_BATCH), epochs=st.integers(1, 2),
       shuffle=st.booleans())
def test_fit_batch_sizes(kind, n, batch_size, epochs, shuffle):
    model = _model(kind)
    x, y = _data(n)
    history, error = outcome(lambda: model.fit(x, y, batch_size=batch_size, epochs=epochs,
                                               shuffle=shuffle, verbose=0))
    if any(batch_size is b for b in BAD_BATCH):
        assert error is not None, f"fit accepted batch_size={batch_size!r}"
        assert_clear(error)
        return
    assert error is None, error
    losses = history.history["loss"]
    assert len(losses) == epochs and np.all(np.isfinite(losses))


BAD_SHAPES = {
    "features": lambda n: _data(n, x_shape=(n, T, D + 1)),
    "rank2": lambda n: _data(n, x_shape=(n, T * D)),
    "rank4": lambda n: _data(n, x_shape=(n, T, D, 1)),
    "samples": lambda n: _data(n, y_shape=(n + 1, K)),
    "targets": lambda n: _data(n, y_shape=(n, K + 1)),
    "target_rank": lambda n: _data(n, y_shape=(n, T, K)),
}


@FUZZ
@given(kind=st.sampled_from(["SimpleRNN", "LSTM", "GRU"]), n=st.integers(1, 4),
       problem=st.sampled_from(sorted(BAD_SHAPES)),
       method=st.sampled_from(["fit", "evaluate", "train_on_batch"]))
def test_bad_shapes_are_refused(kind, n, problem, method):
    model = _model(kind)
    x, y = BAD_SHAPES[problem](n)
    call = getattr(model, method)
    kwargs = {} if method == "train_on_batch" else {"verbose": 0}
    _, error = outcome(lambda: call(x, y, **kwargs))
    assert error is not None, f"{method} accepted {problem}: x {x.shape}, y {y.shape}"
    assert_clear(error)


@FUZZ
@given(kind=st.sampled_from(["SimpleRNN", "LSTM", "GRU"]), n=st.integers(1, 6),
       batch_size=st.sampled_from([None, 1, 4, np.int32(3), -2, 2.5]),
       as_list=st.booleans(), t=st.sampled_from([T, T + 2]))
def test_predict_matches_call(kind, n, batch_size, as_list, t):
    model = _model(kind)
    x = np.random.default_rng(n).normal(size=(n, t, D)).astype("float32")
    given_x = x.tolist() if as_list else x
    pred, error = outcome(lambda: model.predict(given_x, batch_size=batch_size, verbose=0))
    if batch_size in (-2, 2.5) or t != T:
        assert error is not None, f"predict accepted batch_size={batch_size!r}, x {x.shape}"
        assert_clear(error)
        return
    assert error is None, error
    assert pred.shape == (n, K)
    np.testing.assert_allclose(pred, np.asarray(model(x)), rtol=1e-5, atol=1e-6)


@FUZZ
@given(optimizer=st.sampled_from(["sgd", "adam", "rmsprop", "nope", 3]),
       loss=st.sampled_from(["mse", "mae", "nope", 5]),
       metrics=st.sampled_from([None, ["mae"], ["nope"], ("mse", "mae")]))
def test_compile_arguments(optimizer, loss, metrics):
    model = Sequential([Input((T, D)), SimpleRNN(2), Dense(K)])
    x, y = _data(4)

    def compile_and_fit():  # unknown metrics may be refused at compile or at fit, as in Keras
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        return model.fit(x, y, epochs=1, verbose=0).history

    history, error = outcome(compile_and_fit)
    if optimizer in ("nope", 3) or loss in ("nope", 5) or metrics == ["nope"]:
        assert error is not None, f"accepted {optimizer!r}, {loss!r}, {metrics!r}"
        assert_clear(error)
        return
    assert error is None, error
    assert all(np.all(np.isfinite(v)) for v in history.values())


def test_optimizer_none_is_refused_or_defaulted():
    model = Sequential([Input((T, D)), SimpleRNN(2), Dense(K)])
    x, y = _data(4)
    history, error = outcome(lambda: (model.compile(optimizer=None, loss="mse"),
                                      model.fit(x, y, epochs=1, verbose=0))[1])
    if error is not None:
        assert_clear(error)
    else:
        assert np.all(np.isfinite(history.history["loss"]))


def test_metrics_given_as_a_string_is_refused_at_compile():
    model = Sequential([Input((T, D)), SimpleRNN(2), Dense(K)])
    with pytest.raises(ValueError, match="list"):
        model.compile(optimizer="sgd", loss="mse", metrics="mae")


# ---- issue 12 defects 3, 5, 6, 8 (fixed by the `hardening` work): regression fuzz --------
@FUZZ
@given(batch_size=st.sampled_from([0, "2"]))
def test_fit_zero_or_string_batch_size_is_refused(batch_size):
    x, y = _data(3)
    _, error = outcome(lambda: _model("SimpleRNN").fit(x, y, batch_size=batch_size, verbose=0))
    assert error is not None, f"fit accepted batch_size={batch_size!r}"
    assert_clear(error)


@FUZZ
@given(kind=st.sampled_from(["SimpleRNN", "LSTM"]))
def test_fit_on_empty_arrays_is_refused(kind):
    x, y = _data(0)
    _, error = outcome(lambda: _model(kind).fit(x, y, verbose=0))
    assert error is not None, "fit accepted 0 samples"
    assert_clear(error)


@FUZZ
@given(kind=st.sampled_from(["SimpleRNN", "GRU"]))
def test_fit_without_targets_is_refused_clearly(kind):
    x, _ = _data(3)
    _, error = outcome(lambda: _model(kind).fit(x, None, verbose=0))
    assert error is not None
    assert_clear(error)


@FUZZ
@given(label=st.sampled_from([-1, K, K + 3]))
def test_out_of_range_sparse_labels_are_refused(label):
    model = _model("SimpleRNN", loss="sparse_categorical_crossentropy")
    x, _ = _data(3)
    y = np.array([0, label, 1], "int32")
    _, error = outcome(lambda: model.fit(x, y, verbose=0))
    assert error is not None, f"fit accepted label {label} for {K} classes"
    assert_clear(error)


@FUZZ
@given(kind=st.sampled_from(["SimpleRNN", "LSTM", "GRU"]))
def test_stateful_without_batch_size_is_explained(kind):
    rnn = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}[kind]
    x, _ = _data(2)
    _, error = outcome(lambda: Sequential([Input((T, D)), rnn(2, stateful=True)]).predict(
        x, verbose=0))
    assert error is not None
    assert_clear(error)
    assert "batch" in str(error)
