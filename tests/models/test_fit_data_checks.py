"""Hardening (issue 12, defects 5 and 6): data that fit/evaluate cannot train on is refused
with a clear error instead of "succeeding" with a meaningless loss."""

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import GRU, Dense, Embedding

X = np.random.default_rng(0).normal(size=(6, 3, 5)).astype(np.float32)
Y = np.zeros((6, 1), np.float32)


def _regressor():
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), GRU(2), Dense(1)])
    model.compile("adam", "mse")
    return model


def _classifier(loss="sparse_categorical_crossentropy", classes=3):
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), GRU(2), Dense(classes)])
    model.compile("adam", loss)
    return model


# --- defect 5 ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_empty_arrays_are_refused(method):
    model = _regressor()
    with pytest.raises(ValueError, match=rf"{method}\(\) received 0 samples.*x has shape "
                                         r"\(0, 3, 5\)"):
        getattr(model, method)(X[:0], Y[:0], verbose=0)


def test_empty_validation_data_is_refused():
    with pytest.raises(ValueError, match=r"validation_data.*0 samples"):
        _regressor().fit(X, Y, validation_data=(X[:0], Y[:0]), verbose=0)


@pytest.mark.parametrize("bad", [0, -4, 2.5, "8", True])
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_bad_batch_size_is_refused(method, bad):
    model = _regressor()
    args = (X,) if method == "predict" else (X, Y)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer.*received"):
        getattr(model, method)(*args, batch_size=bad, verbose=0)


def test_bad_validation_batch_size_is_refused():
    with pytest.raises(ValueError, match=r"validation_batch_size must be a positive integer"):
        _regressor().fit(X, Y, validation_data=(X, Y), validation_batch_size=0, verbose=0)


def test_numpy_integer_batch_size_and_epochs_are_accepted():
    history = _regressor().fit(X, Y, batch_size=np.int64(4), epochs=np.int32(2), verbose=0)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize("bad", [0.5, "2", -1])
def test_bad_epochs_is_refused(bad):
    with pytest.raises(ValueError, match=r"epochs must be a non-negative integer"):
        _regressor().fit(X, Y, epochs=bad, verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch"])
def test_missing_targets_with_a_loss_is_a_clear_error(method):
    model = _regressor()
    kwargs = {} if method == "train_on_batch" else {"verbose": 0}
    with pytest.raises(ValueError, match=rf"{method}\(\) needs targets `y`.*loss.*mse.*"
                                         rf"{method}\(x, y"):
        getattr(model, method)(X, None, **kwargs)


# --- defect 6 ----------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy",
                                  rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True)])
def test_sparse_labels_outside_the_classes_are_named(loss):
    model = _classifier(loss)
    labels = np.array([0, 1, 2, 5, -1, 2])
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\).*2 of 6.*-1 \(1 time\), 5 "
                                         r".*Dense\(6\)"):
        model.fit(X, labels, verbose=0)
    for b, w in zip(before, model.get_weights()):  # nothing was trained
        np.testing.assert_array_equal(b, w)
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)"):
        model.evaluate(X, labels, verbose=0)
    with pytest.raises(ValueError, match=r"validation_data|class ids in \[0, 3\)"):
        model.fit(X, np.zeros(6, np.int32), validation_data=(X, labels), verbose=0)


def test_non_integer_or_nan_sparse_labels_are_refused():
    model = _classifier()
    with pytest.raises(ValueError, match=r"whole-number class ids.*0\.5"):
        model.fit(X, np.array([0, 1, 0.5, 1, 0, 2], np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"nan"):
        model.fit(X, np.array([0, 1, np.nan, 1, 0, 2], np.float32), verbose=0)


def test_sparse_labels_per_time_step_are_checked():
    model = rnnkit.Sequential([rnnkit.Input(shape=(4,), dtype="int32"), Embedding(10, 4),
                               GRU(3, return_sequences=True), Dense(10)])
    model.compile("adam", rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.zeros((2, 4), np.int32)
    y = np.array([[1, 2, 3, 4], [5, 6, 7, 10]])
    with pytest.raises(ValueError, match=r"class ids in \[0, 10\).*1 of 8.*10 "):
        model.fit(x, y, verbose=0)
    model.fit(x, np.clip(y, 0, 9), verbose=0)  # in range: trains


def test_ignore_class_may_be_outside_the_range():
    model = _classifier(rnnkit.losses.SparseCategoricalCrossentropy(ignore_class=-1))
    history = model.fit(X, np.array([0, 1, 2, -1, -1, 2]), verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_valid_sparse_labels_train_with_a_finite_loss():
    history = _classifier().fit(X, np.array([0, 1, 2, 0, 1, 2]), verbose=0)
    assert np.isfinite(history.history["loss"][0])
