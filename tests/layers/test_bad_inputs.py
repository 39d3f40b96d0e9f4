"""Hardening (issue 12, defects 3, 7, 8): inputs and arguments a new user may pass.

Each case either works as Keras does or raises a ValueError/TypeError saying what was
expected, what was received and how to fix it.
"""

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, GRUCell, RNN

X = np.ones((2, 3, 5), np.float32)


# --- defect 8: NumPy integers wherever Keras takes an int -----------------------------------
@pytest.mark.parametrize("make", [
    lambda n: LSTM(n), lambda n: GRU(n), lambda n: GRUCell(n), lambda n: Dense(n),
    lambda n: Embedding(n, n), lambda n: RNN(GRUCell(4), unroll=n)])
def test_numpy_integer_arguments_are_accepted(make):
    layer = make(np.int64(4))
    for key in ("units", "input_dim", "output_dim", "unroll"):
        value = getattr(layer, key, None)
        if value is not None and not isinstance(value, bool):
            assert type(value) is int and value == 4


def test_numpy_integer_units_give_the_same_numbers_and_config():
    rnnkit.set_random_seed(1)
    a = LSTM(np.int32(4))
    out_a = a(X)
    rnnkit.set_random_seed(1)
    b = LSTM(4)
    np.testing.assert_array_equal(np.asarray(out_a), np.asarray(b(X)))
    assert a.get_config()["units"] == 4 and type(a.get_config()["units"]) is int


@pytest.mark.parametrize("bad", [4.0, "4", True, np.float32(4), 0, -2])
def test_non_integer_units_still_refused(bad):
    with pytest.raises(ValueError, match=r"positive integer.*Received: units="):
        LSTM(bad)


def test_numpy_float_rate_is_accepted():
    assert LSTM(4, dropout=np.float32(0.25)).cell.dropout == 0.25
    assert Dropout(np.float64(0.5)).rate == 0.5


# --- defect 8: what a layer is called on ---------------------------------------------------
def test_nested_python_list_is_converted_like_an_array():
    layer = LSTM(4)
    expected = np.asarray(layer(X))
    out = layer(X.tolist())
    assert out.shape == (2, 4)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6, atol=1e-6)


def test_nested_python_list_into_a_model():
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), GRU(2), Dense(1)])
    np.testing.assert_allclose(np.asarray(model(X.tolist())), np.asarray(model(X)),
                               rtol=1e-6, atol=1e-6)


def test_list_of_arrays_for_a_multi_input_layer_is_left_alone():
    from rnnkit.layers import Concatenate

    out = Concatenate()([X, X])
    assert out.shape == (2, 3, 10)


@pytest.mark.parametrize("dtype", ["<U1", "S1", object])
def test_string_or_object_array_is_a_clear_type_error(dtype):
    x = np.full((2, 3, 5), "a", dtype=dtype)
    with pytest.raises(TypeError, match=r"numeric.*Received.*dtype.*Convert"):
        LSTM(4)(x)


def test_string_array_in_fit_and_predict_is_a_clear_type_error():
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), GRU(2), Dense(1)])
    model.compile("adam", "mse")
    x = np.full((2, 3, 5), "a")
    with pytest.raises(TypeError, match=r"numeric"):
        model.predict(x, verbose=0)
    with pytest.raises(TypeError, match=r"numeric"):
        model.fit(x, np.zeros((2, 1)), verbose=0)
    with pytest.raises(TypeError, match=r"numeric"):
        model.fit(X, np.full((2, 1), "a"), verbose=0)


@pytest.mark.parametrize("convert", [np.asarray, rnnkit.ops.convert_to_tensor])
def test_complex_input_is_refused_not_truncated(convert):
    x = convert(X * (1 + 2j))
    with pytest.raises(TypeError, match=r"complex.*real.*imag"):
        LSTM(4)(x)
    with pytest.raises(TypeError, match=r"complex"):
        Dense(2)(x)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "int32", "bool"])
def test_other_real_dtypes_are_accepted(dtype):
    import jax.numpy as jnp

    assert LSTM(4)(jnp.asarray(X).astype(dtype)).shape == (2, 4)
    assert Dense(2)(np.asarray(jnp.asarray(X).astype(dtype))).shape == (2, 3, 2)


def test_complex_data_in_fit_is_refused():
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), GRU(2), Dense(1)])
    model.compile("adam", "mse")
    with pytest.raises(TypeError, match=r"complex"):
        model.fit(X * 1j, np.zeros((2, 1)), verbose=0)


# --- defect 3: stateful layers need a fixed batch size ----------------------------------
_FIXED = r"stateful.*fixed batch size.*batch_shape=\(.*3, 5\).*batch_size="


def test_stateful_after_input_without_batch_size():
    with pytest.raises(ValueError, match=_FIXED):
        rnnkit.Sequential([rnnkit.Input(shape=(3, 5)), LSTM(4, stateful=True)])


def test_stateful_in_functional_model_without_batch_size():
    inp = rnnkit.Input(shape=(3, 5))
    with pytest.raises(ValueError, match=_FIXED):
        Bidirectional(GRU(4, stateful=True))(inp)


def test_stateful_with_batch_size_works():
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 5), batch_size=2),
                               LSTM(4, stateful=True)])
    assert model.predict(X, verbose=0).shape == (2, 4)


def test_lazy_sequential_with_stateful_layer_takes_the_batch_size_of_its_first_batch():
    # Keras builds a Sequential without Input on the first batch's full shape
    model = rnnkit.Sequential([LSTM(4, stateful=True), Dense(1)])
    first = np.asarray(model(X))
    assert first.shape == (2, 1)
    second = np.asarray(model(X))
    assert not np.allclose(first, second)  # the states carried over
    model.layers[0].reset_states()
    np.testing.assert_allclose(np.asarray(model(X)), first, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(2, 3, 5\).*received .*\(3, 3, 5\)"):
        model(np.ones((3, 3, 5), np.float32))


def test_stateless_lazy_sequential_still_takes_any_batch_size():
    model = rnnkit.Sequential([LSTM(4), Dense(1)])
    model(X)
    assert model(np.ones((7, 3, 5), np.float32)).shape == (7, 1)


# --- defect 7: reset_states with explicit values ----------------------------------------
def _stateful_lstm():
    layer = LSTM(4, stateful=True)
    layer(X)
    return layer


def test_reset_states_with_too_few_arrays_is_an_error_and_changes_nothing():
    layer = _stateful_lstm()
    before = [np.asarray(s) for s in layer.states]
    with pytest.raises(ValueError, match=r"expects 2 state array.*received 1.*\[h, c\]"):
        layer.reset_states([np.zeros((2, 4), np.float32)])
    for b, s in zip(before, layer.states):
        np.testing.assert_array_equal(b, np.asarray(s))


def test_reset_states_with_wrong_shape_is_an_error():
    layer = _stateful_lstm()
    with pytest.raises(ValueError, match=r"shapes \[\(2, 4\), \(2, 4\)\]"):
        layer.reset_states([np.zeros((3, 4)), np.zeros((3, 4))])


def test_reset_states_with_values_sets_them():
    layer = _stateful_lstm()
    h, c = np.full((2, 4), 0.5, np.float32), np.full((2, 4), -1.0, np.float32)
    layer.reset_states([h, c])
    np.testing.assert_array_equal(np.asarray(layer.states[0]), h)
    np.testing.assert_array_equal(np.asarray(layer.states[1]), c)
    gru = GRU(3, stateful=True)
    gru(X)
    gru.reset_states(np.ones((2, 3), np.float32))  # one state: a bare array is fine
    np.testing.assert_array_equal(np.asarray(gru.states[0]), np.ones((2, 3)))


def test_reset_states_with_values_before_build_is_an_error():
    with pytest.raises(ValueError, match=r"not built.*call it on a batch"):
        LSTM(4, stateful=True).reset_states([np.zeros((2, 4)), np.zeros((2, 4))])
