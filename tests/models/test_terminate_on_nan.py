"""Hardening (issue 12, defect 2): a non-finite loss is detected (Keras's TerminateOnNaN),
and a model whose weights went non-finite is not sampled from as if nothing happened."""

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import LambdaCallback, TerminateOnNaN
from rnnkit.layers import GRU, Dense, Embedding

X = np.random.default_rng(0).normal(size=(64, 3, 5)).astype(np.float32)
Y = np.random.default_rng(1).normal(size=(64, 1)).astype(np.float32)


def _diverging_model():
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), GRU(4), Dense(1)])
    model.compile(rnnkit.optimizers.SGD(1e38), "mse")  # the first update overflows
    return model


def _batches_seen(record):
    return LambdaCallback(on_train_batch_end=lambda batch, logs: record.append(
        (batch, logs["loss"])))


def test_terminate_on_nan_stops_at_the_first_non_finite_batch(capsys):
    model = _diverging_model()
    seen = []
    history = model.fit(X, Y, batch_size=8, epochs=5, verbose=0,
                        callbacks=[TerminateOnNaN(), _batches_seen(seen)])
    losses = [loss for _, loss in seen]
    first_bad = next(i for i, v in enumerate(losses) if not np.isfinite(v))
    assert len(losses) == first_bad + 1  # nothing ran after the first non-finite loss
    assert len(history.history["loss"]) == 1 and model.stop_training
    assert f"Batch {seen[-1][0]}: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error():
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch \d+"):
        _diverging_model().fit(X, Y, batch_size=8, epochs=2, verbose=0,
                               callbacks=[TerminateOnNaN(raise_error=True)])


def test_without_the_callback_training_runs_on_like_keras():
    history = _diverging_model().fit(X, Y, batch_size=8, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and not np.isfinite(history.history["loss"][-1])


def test_on_batch_end_alias_is_called_as_in_keras():
    calls = []

    class Legacy(rnnkit.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            calls.append(batch)

    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), GRU(4), Dense(1)])
    model.compile("sgd", "mse")
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0, callbacks=[Legacy()])
    assert calls == [0, 1]


def test_generate_refuses_a_model_with_non_finite_weights():
    model = rnnkit.Sequential([rnnkit.Input(shape=(None,), dtype="int32"), Embedding(7, 4),
                               GRU(5, return_sequences=True), Dense(7)])
    model.build((1, 3))
    ids = rnnkit.generate(model, [1, 2], 4, seed=0)
    assert ids.shape == (4,)
    weights = model.get_weights()
    weights[2][0, 0] = np.nan  # one recurrent weight
    model.set_weights(weights)
    with pytest.raises(ValueError, match=r"weight arrays hold NaN or inf.*recurrent_kernel.*diverged"):
        rnnkit.generate(model, [1, 2], 4, seed=0)


def test_generate_refuses_non_finite_outputs():
    model = rnnkit.Sequential([rnnkit.Input(shape=(None,), dtype="int32"), Embedding(7, 4),
                               GRU(5, return_sequences=True),
                               Dense(7, activation="exponential")])
    model.build((1, 3))
    weights = model.get_weights()
    weights[-1][:] = 1000.0  # finite weights, but exp(1000) overflows to inf
    model.set_weights(weights)
    with pytest.raises(ValueError, match=r"output at step \d+ is not finite"):
        rnnkit.generate(model, [1, 2], 4, seed=0, greedy=True)
