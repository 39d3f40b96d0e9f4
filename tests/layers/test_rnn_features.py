"""RNN features beyond the golden cases: compilation caching, time_major, integer unroll,
training-time dropout, constants, configs, and the pure core under jax.jit / jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import ops
from rnnkit.core import cells as core
from rnnkit.core.scan import scan_rnn
from rnnkit.layers import (GRU, LSTM, RNN, AbstractRNNCell, Bidirectional, GRUCell, LSTMCell,
                           SimpleRNN)
from rnnkit.layers.serialization import deserialize, serialize

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 4)).astype(np.float32)


@pytest.mark.parametrize("layer_cls", [SimpleRNN, LSTM, GRU])
def test_layer_call_is_compiled_once_per_signature(layer_cls):
    layer = layer_cls(5, return_sequences=True)
    first = layer(X)
    assert layer._trace_count == 1
    second = layer(X + 1.0)
    assert layer._trace_count == 1  # same shapes: no new trace
    layer(X[:2])
    assert layer._trace_count == 2  # a new batch size compiles once more
    assert not np.allclose(first, second)


def test_custom_cell_runs_compiled_too():
    class Cell(AbstractRNNCell):
        def __init__(self, units, **kw):
            super().__init__(**kw)
            self.units = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

        def call(self, inputs, states):
            h = ops.tanh(ops.matmul(inputs, self.kernel) + states[0])
            return h, [h]

    layer = RNN(Cell(3))
    layer(X)
    layer(X)
    assert layer._trace_count == 1


@pytest.mark.parametrize("layer_cls", [SimpleRNN, LSTM, GRU])
def test_time_major_matches_batch_major(layer_cls):
    a = layer_cls(5, return_sequences=True, return_state=True)
    b = layer_cls(5, return_sequences=True, return_state=True, time_major=True)
    a.build(X.shape)
    b.build((6, 3, 4))
    b.set_weights(a.get_weights())
    out_a = a(X)
    out_b = b(np.swapaxes(X, 0, 1))
    np.testing.assert_allclose(np.swapaxes(out_b[0], 0, 1), out_a[0], atol=1e-6)
    for sa, sb in zip(out_a[1:], out_b[1:]):
        np.testing.assert_allclose(sa, sb, atol=1e-6)


def test_time_major_unrolled_backwards_zero_output_mask_matches_batch_major():
    # the zeros Keras' unrolled loop puts on masked steps after a go_backwards pass
    # (rnnkit.layers.rnn.zeros_after_unrolled_loop) land on the same steps with time_major
    mask = np.array([[1, 1, 0, 1, 0, 0], [0, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 1]], bool)
    kw = dict(return_sequences=True, unroll=True, go_backwards=True, zero_output_for_mask=True)
    a, b = GRU(5, **kw), GRU(5, time_major=True, **kw)
    a.build(X.shape)
    b.build((6, 3, 4))
    b.set_weights(a.get_weights())
    out_a = np.asarray(a(X, mask=mask))
    out_b = np.swapaxes(np.asarray(b(np.swapaxes(X, 0, 1), mask=mask)), 0, 1)
    np.testing.assert_allclose(out_b, out_a, atol=1e-6)
    assert np.all(out_a[~mask] == 0)


@pytest.mark.parametrize("unroll", [True, 2, 3, 8])
def test_integer_unroll_factor_gives_same_numbers(unroll):
    ref = LSTM(5, return_sequences=True)
    ref.build(X.shape)
    layer = LSTM(5, return_sequences=True, unroll=unroll)
    layer.build(X.shape)
    layer.set_weights(ref.get_weights())
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    np.testing.assert_allclose(layer(X, mask=mask), ref(X, mask=mask), atol=1e-6)


def test_bad_unroll_value():
    with pytest.raises(ValueError, match="unroll"):
        LSTM(3, unroll=0)


@pytest.mark.parametrize("layer_cls", [SimpleRNN, LSTM, GRU])
def test_dropout_only_in_training(layer_cls):
    layer = layer_cls(8, dropout=0.5, recurrent_dropout=0.3, return_sequences=True, seed=1)
    infer = np.asarray(layer(X))
    again = np.asarray(layer(X, training=False))
    np.testing.assert_allclose(infer, again)
    train1 = np.asarray(layer(X, training=True))
    train2 = np.asarray(layer(X, training=True))
    assert not np.allclose(train1, infer)
    assert not np.allclose(train1, train2)  # a fresh mask per call


def test_dropout_mask_is_shared_across_time_steps():
    # With an identity-like SimpleRNN (no recurrence, linear) the dropped input features are
    # the same at every step: variational dropout, one mask per sequence.
    layer = SimpleRNN(4, activation="linear", dropout=0.5, use_bias=False,
                      return_sequences=True, seed=3)
    layer.build((1, 5, 4))
    layer.set_weights([np.eye(4, dtype=np.float32), np.zeros((4, 4), np.float32)])
    x = np.ones((1, 5, 4), np.float32)
    out = np.asarray(layer(x, training=True))
    assert set(np.unique(out)) <= {0.0, 2.0}
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1], out.shape))


def test_constants_reach_a_cell_that_accepts_them():
    class AttentionCell(AbstractRNNCell):
        def __init__(self, units, **kw):
            super().__init__(**kw)
            self.units = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

        def call(self, inputs, states, constants):
            h = ops.matmul(inputs, self.kernel) + states[0] + constants[0]
            return h, [h]

    c = np.full((3, 2), 0.5, np.float32)
    cell = AttentionCell(2)
    out = RNN(cell)(X, constants=[c])
    k = np.asarray(cell.kernel.value)
    h = np.zeros((3, 2), np.float32)
    for t in range(6):
        h = X[:, t] @ k + h + c
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer", [
    LSTM(3, return_sequences=True, dropout=0.1, go_backwards=True),
    GRU(4, reset_after=False, activation="relu"),
    SimpleRNN(2, use_bias=False, unroll=4),
    RNN([LSTMCell(3), GRUCell(2)], return_state=True),
    Bidirectional(GRU(3, return_sequences=True), merge_mode="sum"),
])
def test_config_round_trip_gives_same_numbers(layer):
    layer.build(X.shape)
    copy = deserialize(serialize(layer))
    copy.build(X.shape)
    copy.set_weights(layer.get_weights())
    a, b = layer(X), copy(X)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(u, v, atol=1e-6)


def test_stateful_reset_and_get_config():
    layer = GRU(3, stateful=True)
    first = np.asarray(layer(X))
    second = np.asarray(layer(X))
    assert not np.allclose(first, second)
    layer.reset_states()
    np.testing.assert_allclose(layer(X), first, atol=1e-6)
    assert layer.get_config()["stateful"] is True


def test_pure_core_under_jit_and_grad():
    d, h, b, t = 4, 5, 3, 6
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    params = core.LSTMParams(jax.random.normal(keys[0], (d, 4 * h)) * 0.3,
                             jax.random.normal(keys[1], (h, 4 * h)) * 0.3, jnp.zeros(4 * h))
    state0 = core.LSTMState(jnp.zeros((b, h)), jnp.zeros((b, h)))

    @jax.jit
    def loss(p, x):
        last, _, _ = scan_rnn(lambda s, x_t: core.lstm_step(p, s, x_t), state0, x,
                              return_sequences=False)
        return jnp.sum(last ** 2)

    x = jnp.asarray(X[:, :, :d])
    g = jax.grad(loss)(params, x)
    eps = 1e-3
    bumped = params._replace(bias=params.bias.at[0].add(eps))
    numeric = (loss(bumped, x) - loss(params, x)) / eps
    assert abs(float(g.bias[0]) - float(numeric)) < 2e-2 * max(1.0, abs(float(numeric)))
