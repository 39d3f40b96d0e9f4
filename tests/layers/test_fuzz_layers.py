"""Fuzzing the public layer API: random construction arguments, input shapes and dtypes.

Every example ends in a correct result (shapes, finite values, a NumPy reference for
SimpleRNN) or a clear ValueError/TypeError (see tests/reference/fuzz_support.py). The tests
at the end aim at the input defects of issue 12 (NumPy integer units, nested lists, complex
and string arrays); they failed before those were fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fuzz_support import FUZZ, assert_clear, outcome
from rnnkit.layers import GRU, LSTM, SimpleRNN

KINDS = {"SimpleRNN": (SimpleRNN, 1), "LSTM": (LSTM, 2), "GRU": (GRU, 1)}
ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), None: lambda z: z,
               "linear": lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
BAD_ACTIVATIONS = ["nope", 3, 1.5, ("tanh",)]
GOOD_RATES = [0.0, 0.25]
BAD_RATES = [-0.1, 1.0, 1.5, "x", None]


def _valid_units(units):
    return isinstance(units, (int, np.integer)) and not isinstance(units, bool) and units > 0


def _numpy_simple_rnn(layer, x, act, go_backwards):
    kernel, recurrent, bias = (np.asarray(w, "float64") for w in layer.get_weights())
    x = np.asarray(x, "float64")
    if go_backwards:
        x = x[:, ::-1]
    h = np.zeros((x.shape[0], kernel.shape[1]))
    seq = []
    for t in range(x.shape[1]):
        h = ACTIVATIONS[act](x[:, t] @ kernel + h @ recurrent + bias)
        seq.append(h)
    return h, np.stack(seq, axis=1)


@FUZZ
@given(kind=st.sampled_from(sorted(KINDS)),
       units=st.one_of(st.integers(-2, 4), st.sampled_from([2.0, 2.5, "3", None, [2]]),
                      st.integers(1, 3).map(np.int64)),
       activation=st.sampled_from(list(ACTIVATIONS) + BAD_ACTIVATIONS),
       dropout=st.sampled_from(GOOD_RATES + BAD_RATES),
       flags=st.fixed_dictionaries({k: st.booleans() for k in (
           "return_sequences", "return_state", "go_backwards", "unroll", "use_bias")}),
       shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3)),
       dtype=st.sampled_from(["float32", "float64", "float16", "int32", "bool"]))
def test_layer_construction_and_call(kind, units, activation, dropout, flags, shape, dtype):
    cls, n_states = KINDS[kind]
    x = (np.random.default_rng(0).normal(size=shape) * 2).astype(dtype)

    def build_and_call():
        layer = cls(units, activation=activation, dropout=dropout, **flags)
        return layer, layer(x)

    result, error = outcome(build_and_call)
    valid = (_valid_units(units) and activation in ACTIVATIONS and dropout in GOOD_RATES)
    if not valid:
        assert error is not None, f"accepted units={units!r}, activation={activation!r}, " \
                                  f"dropout={dropout!r}"
        assert_clear(error)
        return
    assert error is None, error
    layer, out = result
    outs = list(out) if flags["return_state"] else [out]
    b, t, _ = shape
    main = (b, t, units) if flags["return_sequences"] else (b, units)
    assert tuple(outs[0].shape) == main
    assert len(outs) == 1 + (n_states if flags["return_state"] else 0)
    assert all(tuple(s.shape) == (b, units) for s in outs[1:])
    assert all(np.all(np.isfinite(np.asarray(o, "float32"))) for o in outs)
    if kind == "SimpleRNN" and flags["use_bias"] and dtype != "float16":
        last, seq = _numpy_simple_rnn(layer, x, activation, flags["go_backwards"])
        want = seq if flags["return_sequences"] else last
        np.testing.assert_allclose(np.asarray(outs[0], "float64"), want, rtol=2e-4, atol=2e-4)


@FUZZ
@given(rank=st.integers(0, 5), dtype=st.sampled_from(["float32", "int64", "bool", "uint8"]),
       empty_batch=st.booleans())
def test_input_rank_and_dtype(rank, dtype, empty_batch):
    shape = (0 if empty_batch else 2, 3, 4, 2, 2)[:rank]
    x = np.ones(shape, dtype)
    result, error = outcome(lambda: LSTM(3)(x))
    if rank != 3:
        assert error is not None and isinstance(error, ValueError)
        assert_clear(error)
        assert "rank" in str(error)
        return
    assert error is None, error
    assert tuple(result.shape) == (shape[0], 3)
    assert np.all(np.isfinite(np.asarray(result)))


@FUZZ
@given(kind=st.sampled_from(sorted(KINDS)),
       name=st.sampled_from(["kernel_initializer", "recurrent_initializer", "bias_initializer",
                             "kernel_regularizer", "kernel_constraint"]),
       value=st.sampled_from(["nope", 3, 1.5, object(), ["zeros"]]))
def test_bad_object_arguments_are_named(kind, name, value):
    cls, _ = KINDS[kind]
    _, error = outcome(lambda: cls(2, **{name: value})(np.ones((1, 2, 3), "float32")))
    assert error is not None
    assert_clear(error)


# ---- issue 12 defects 3, 5, 6, 8 (fixed by the `hardening` work): regression fuzz --------
@FUZZ
@given(kind=st.sampled_from(sorted(KINDS)), units=st.integers(1, 4),
       int_type=st.sampled_from([np.int64, np.int32, np.uint8]))
def test_numpy_integer_units_are_accepted(kind, units, int_type):
    cls, _ = KINDS[kind]
    out = cls(int_type(units))(np.ones((2, 3, 4), "float32"))
    assert tuple(out.shape) == (2, units)


@FUZZ
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
def test_nested_list_input_is_converted(shape):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    layer = SimpleRNN(2)
    want = np.asarray(layer(x))
    np.testing.assert_allclose(np.asarray(layer(x.tolist())), want, rtol=1e-6)


@FUZZ
@given(dtype=st.sampled_from(["complex64", "complex128", "str", "object"]))
def test_complex_and_string_inputs_are_refused_clearly(dtype):
    x = np.ones((2, 3, 4)).astype(dtype)
    _, error = outcome(lambda: LSTM(2)(x))
    assert error is not None, f"accepted {dtype} input"
    assert_clear(error)
