"""Models and training: the tutorials' model code, compile/fit/evaluate/predict, callbacks,
compilation caching, and errors."""

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import EarlyStopping, LambdaCallback, ReduceLROnPlateau
from rnnkit.layers import (LSTM, Concatenate, Dense, Embedding, Input, Masking, SimpleRNN,
                           TimeDistributed)
from rnnkit.models import Model, Sequential
from rnnkit.optimizers import SGD, Adam


# --- seed 004 "RNN Shapes" ---------------------------------------------------------------
def test_rnn_shapes_tutorial_manual_numpy_loop_matches_predict(capsys):
    N, T, D, K, M = 1, 10, 3, 2, 5
    X = np.random.default_rng(0).normal(size=(N, T, D))
    i = Input(shape=(T, D))
    x = SimpleRNN(M)(i)
    x = Dense(K)(x)
    model = Model(i, x)
    Yhat = model.predict(X)
    assert Yhat.shape == (1, 2)

    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 57" in text and "(SimpleRNN)" in text and "45" in text
    assert "(InputLayer)" in text and "(None, 10, 3)" in text
    assert model.count_params() == 57
    assert [layer.count_params() for layer in model.layers] == [0, 45, 12]

    a, b, c = model.layers[1].get_weights()
    assert (a.shape, b.shape, c.shape) == ((3, 5), (5, 5), (5,))
    Wx, Wh, bh = model.layers[1].get_weights()
    Wo, bo = model.layers[2].get_weights()
    h_last = np.zeros(M)
    x = X[0]
    Yhats = []
    for t in range(T):
        h = np.tanh(x[t].dot(Wx) + h_last.dot(Wh) + bh)
        y = h.dot(Wo) + bo
        Yhats.append(y)
        h_last = h
    np.testing.assert_allclose(Yhats[-1], Yhat[0], atol=1e-6)


# --- seed 002 "RNN Basic": learn "hello" and generate it from "h" -------------------------
def test_hello_is_learned_and_generated_from_h():
    rnnkit.set_random_seed(7)
    chars = "helo"
    idx = {c: i for i, c in enumerate(chars)}
    x_ids = [idx[c] for c in "hell"]
    y_ids = [idx[c] for c in "ello"]
    X = np.eye(4, dtype=np.float32)[x_ids][None]  # (1, 4, 4) one-hot
    Y = np.asarray(y_ids, np.int32)[None]  # (1, 4)
    model = Sequential([Input(shape=(None, 4)), SimpleRNN(8, return_sequences=True),
                        Dense(4)])
    model.compile(optimizer=Adam(0.05),
                  loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(X, Y, epochs=150, verbose=0)
    assert history.history["loss"][-1] < 0.05 < history.history["loss"][0]

    rnn, dense = model.layers
    text, state = "h", rnn.get_initial_state(1)
    for _ in range(4):
        x_t = np.eye(4, dtype=np.float32)[[idx[text[-1]]]]
        h, state = rnn.step(x_t, state)
        text += chars[int(np.argmax(dense(h)))]
    assert text == "hello"


# --- compilation caching ------------------------------------------------------------------
def test_fit_on_10k_samples_never_retraces_per_batch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10_000, 5, 3)).astype(np.float32)
    y = rng.normal(size=(10_000, 1)).astype(np.float32)
    model = Sequential([Input(shape=(5, 3)), LSTM(4), Dense(1)])
    model.compile(optimizer=SGD(0.01), loss="mse")
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)  # 157 batches, last one of 16
    assert model._train_trace_count <= 2
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert model._train_trace_count <= 2


# --- training API -------------------------------------------------------------------------
def _regression_data(n=64, t=6, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, d)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None] * 0.1
    return x, y.astype(np.float32)


def test_fit_evaluate_predict_and_history():
    x, y = _regression_data()
    model = Sequential([Input(shape=(6, 3)), LSTM(8), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=5, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert len(history.history["loss"]) == 5
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, mae = model.evaluate(x, y, verbose=0)
    pred = model.predict(x, batch_size=10, verbose=0)
    assert pred.shape == (64, 1)
    np.testing.assert_allclose(loss, np.mean((pred - y) ** 2), rtol=1e-4)
    np.testing.assert_allclose(mae, np.mean(np.abs(pred - y)), rtol=1e-4)
    np.testing.assert_allclose(model.predict_on_batch(x[:4]), pred[:4], atol=1e-6)


def test_train_on_batch_matches_one_fit_step():
    x, y = _regression_data(n=8)

    def make():
        rnnkit.set_random_seed(3)
        m = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
        m.compile(optimizer=SGD(0.1), loss="mse")
        return m

    a, b = make(), make()
    b.set_weights(a.get_weights())
    loss_a = a.train_on_batch(x, y)
    hist = b.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(loss_a, hist.history["loss"][0], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-7)


def test_functional_model_with_two_inputs_and_masking():
    a_in = Input(shape=(None, 2))
    b_in = Input(shape=(3,))
    h = LSTM(4)(Masking()(a_in))
    out = Dense(1)(Concatenate()([h, b_in]))
    model = Model([a_in, b_in], out)
    xa = np.random.default_rng(0).normal(size=(6, 5, 2)).astype(np.float32)
    xa[:, 3:] = 0.0  # padding, masked
    xb = np.ones((6, 3), np.float32)
    pred = model.predict([xa, xb], verbose=0)
    assert pred.shape == (6, 1)
    # the zero padding is masked: same prediction as the unpadded sequences
    np.testing.assert_allclose(model.predict([xa[:, :3], xb], verbose=0), pred, atol=1e-6)
    with pytest.raises(ValueError, match=r"has 2 inputs.*called with 1"):
        model.predict(xa, verbose=0)


def test_embedding_mask_zero_matches_unpadded_sequence():
    model = Sequential([Input(shape=(None,), dtype="int32"), Embedding(10, 4, mask_zero=True),
                        LSTM(3)])
    padded = np.array([[3, 5, 7, 0, 0]], np.int32)
    np.testing.assert_allclose(model.predict(padded, verbose=0),
                               model.predict(padded[:, :3], verbose=0), atol=1e-6)


def test_time_distributed_sequence_targets():
    x, _ = _regression_data(n=16)
    y = np.cumsum(x, axis=1)[..., :2]
    model = Sequential([Input(shape=(6, 3)), LSTM(8, return_sequences=True),
                        TimeDistributed(Dense(2))])
    model.compile(optimizer=Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=3, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


# --- callbacks ----------------------------------------------------------------------------
def test_early_stopping_and_lambda_callback():
    x, y = _regression_data(n=32)
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    model.compile(optimizer=SGD(0.0), loss="mse")  # lr 0: the loss never improves
    seen = []
    hist = model.fit(x, y, epochs=20, verbose=0, callbacks=[
        EarlyStopping(monitor="loss", patience=2, min_delta=1e-3),
        LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))])
    assert len(hist.history["loss"]) == 3 and seen == [0, 1, 2]


def test_reduce_lr_on_plateau_changes_the_rate_without_recompiling():
    x, y = _regression_data(n=32)
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    opt = SGD(0.0)
    model.compile(optimizer=opt, loss="mse")
    lrs = []
    model.fit(x, y, epochs=4, verbose=0, callbacks=[
        ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_lr=0.0),
        LambdaCallback(on_epoch_end=lambda e, logs: lrs.append(logs["learning_rate"]))])
    assert model._train_trace_count == 1
    assert lrs[0] == 0.0  # a rate of zero stays zero; check the callback ran and logged it


def test_reduce_lr_on_plateau_reduces():
    x, y = _regression_data(n=32)
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    model.compile(optimizer=SGD(1e-9), loss="mse")
    model.fit(x, y, epochs=4, verbose=0, callbacks=[
        ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=1.0)])
    lr = float(model.optimizer.get_learning_rate(model._opt_state))
    assert lr < 1e-9 * 0.3


def test_progress_bar_prints_epochs_and_loss(capsys):
    x, y = _regression_data(n=16)
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out and "2/2" in out


# --- errors -------------------------------------------------------------------------------
def test_fit_before_compile():
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4)])
    with pytest.raises(RuntimeError, match=r"compile\(\) before fit\(\)"):
        model.fit(np.zeros((2, 6, 3)), np.zeros((2, 4)))


def test_x_y_length_mismatch():
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"x with 4 samples and y with 3"):
        model.fit(np.zeros((4, 6, 3)), np.zeros((3, 4)), verbose=0)


def test_wrong_target_shape_for_sparse_loss():
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy expects integer "
                                         r"class ids.*Received y_true of shape \(4, 5\)"):
        model.fit(np.zeros((4, 6, 3)), np.zeros((4, 5)), verbose=0)
    with pytest.raises(ValueError, match=r"one-hot.*categorical_crossentropy"):
        model.fit(np.zeros((4, 6, 3)), np.eye(3)[[0, 1, 2, 0]], verbose=0)


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(optimizer="adamm", loss="mse"), r"(?i)unknown optimizer.*adamm"),
    (dict(optimizer="sgd", loss="mse2"), r"(?i)unknown loss.*mse2"),
    (dict(optimizer="sgd", loss="mse", metrics=["acuracy"]), r"(?i)unknown metric.*acuracy"),
])
def test_unknown_names(kwargs, pattern):
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4)])
    with pytest.raises(ValueError, match=pattern):
        model.compile(**kwargs)
        model.fit(np.zeros((2, 6, 3)), np.zeros((2, 4)), verbose=0)


def test_input_shape_not_matching_data():
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"expects arrays of shape \(None, 6, 3\).*\(2, 6, 5\)"):
        model.fit(np.zeros((2, 6, 5)), np.zeros((2, 4)), verbose=0)
