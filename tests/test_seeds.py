"""The tutorials in ../shared/seeds, with imports changed to rnnkit and tf.constant to numpy.

Each test reproduces a tutorial snippet and checks the shapes the tutorial prints. Where the
tutorial's own code cannot work (in Keras either), rnnkit must raise an error that names
the fix; those tests check the message text.
"""

import numpy as np
import pytest

from rnnkit import ops
from rnnkit.layers import (GRU, LSTM, RNN, AbstractRNNCell, Bidirectional, Layer,
                           SimpleRNN, SimpleRNNCell, StackedRNNCells)
from rnnkit.models import Sequential
from rnnkit.regularizers import l1, l1_l2, l2

INPUT_DATA = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0],
                        [2.0, 3.0, 4.0, 5.0, 6.0],
                        [3.0, 4.0, 5.0, 6.0, 7.0]]], dtype=np.float32)


# --- "Explain the parameter of RNN" (seeds 000 and 001) ----------------------------------
@pytest.mark.parametrize("layer_cls", [SimpleRNN, LSTM, GRU])
def test_basic_layers_return_sequences_shape(layer_cls):
    out = layer_cls(units=64, return_sequences=True)(INPUT_DATA)
    assert out.shape == (1, 3, 64)


def test_adjusted_batch_and_time_steps():
    batch_size, num_time_steps = 2, 4
    input_data = np.array(
        [[[1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 3.0, 4.0, 5.0, 6.0], [3.0, 4.0, 5.0, 6.0, 7.0],
          [4.0, 5.0, 6.0, 7.0, 8.0]],
         [[9.0, 10.0, 11.0, 12.0, 13.0], [10.0, 11.0, 12.0, 13.0, 14.0],
          [11.0, 12.0, 13.0, 14.0, 15.0], [12.0, 13.0, 14.0, 15.0, 16.0]]], dtype=np.float32)
    out = SimpleRNN(units=64, return_sequences=True)(input_data)
    assert out.shape == (batch_size, num_time_steps, 64)


def test_bidirectional_lstm():
    out = Bidirectional(LSTM(64, return_sequences=True))(INPUT_DATA)
    assert out.shape == (1, 3, 128)


def test_stacked_rnn_cells_given_lstm_layers_names_the_fix():
    lstm1 = LSTM(64, return_sequences=True)
    lstm2 = LSTM(64, return_sequences=True)
    with pytest.raises(ValueError, match=r"LSTMCell\(64\)"):
        StackedRNNCells([lstm1, lstm2])


def test_stacked_rnn_cells_corrected():
    from rnnkit.layers import LSTMCell

    stacked = StackedRNNCells([LSTMCell(64), LSTMCell(64)])
    out = RNN(stacked, return_sequences=True)(INPUT_DATA)
    assert out.shape == (1, 3, 64)  # the shape the tutorial prints
    assert RNN(StackedRNNCells([LSTMCell(64), LSTMCell(64)]))(INPUT_DATA).shape == (1, 64)


def test_sequence_generation_loop_names_the_fix():
    rnn = SimpleRNN(64, return_sequences=True)
    initial_state = rnn.get_initial_state(INPUT_DATA)
    sequence = [INPUT_DATA]
    with pytest.raises(ValueError, match="return_state=True"):
        for _ in range(5):
            output, new_state = rnn(sequence[-1], initial_state)
            sequence.append(output)


def test_sequence_generation_corrected_with_step():
    rnn = SimpleRNN(64, return_sequences=True)
    full = rnn(INPUT_DATA)
    state = rnn.get_initial_state(1)
    outputs = []
    for t in range(INPUT_DATA.shape[1]):
        y, state = rnn.step(INPUT_DATA[:, t], state)
        outputs.append(y)
    # step() runs the XLA cell step, the whole sequence the native loop: the same 2e-6 as
    # tests/core/test_native.py allows between the two engines (1e-6 failed on some draws)
    np.testing.assert_allclose(np.stack(outputs, axis=1), full, atol=2e-6)
    assert full.shape == (1, 3, 64)


def test_sequence_generation_corrected_with_return_state():
    rnn = SimpleRNN(64, return_sequences=True, return_state=True)
    output, new_state = rnn(INPUT_DATA, initial_state=rnn.get_initial_state(1))
    assert output.shape == (1, 3, 64) and new_state.shape == (1, 64)


def test_custom_cell_adding_input_to_state_names_the_fix():
    class MyRNNCell(AbstractRNNCell):
        def __init__(self, units):
            super(MyRNNCell, self).__init__()
            self.units = units

        def call(self, inputs, state):
            new_state = inputs + state
            output = new_state
            return output, new_state

    with pytest.raises(ValueError, match="project the input to `units` first"):
        RNN(MyRNNCell(64), return_sequences=True)(INPUT_DATA)


def test_custom_cell_corrected():
    class MyRNNCell(AbstractRNNCell):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        @property
        def state_size(self):
            return self.units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.built = True

        def call(self, inputs, states):
            new_state = ops.matmul(inputs, self.kernel) + states[0]
            return new_state, [new_state]

    cell = MyRNNCell(64)
    out = RNN(cell, return_sequences=True)(INPUT_DATA)
    assert out.shape == (1, 3, 64)
    # the cell's arithmetic, step by step in NumPy
    k = np.asarray(cell.kernel.value)
    h = np.zeros((1, 64), np.float32)
    for t in range(3):
        h = INPUT_DATA[:, t] @ k + h
        np.testing.assert_allclose(out[:, t], h, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kwargs,input_shape,units", [
    (dict(units=64), (10, 32), 64),
    (dict(units=128, activation="tanh"), (20, 64), 128),
    (dict(units=32, use_bias=True), (8, 16), 32),
    (dict(units=64, kernel_regularizer=l2(0.01)), (15, 128), 64),
    (dict(units=128, recurrent_regularizer=l1(0.001)), (25, 32), 128),
    (dict(units=32, bias_regularizer=l1_l2(l1=0.001, l2=0.01)), (12, 64), 32),
    (dict(units=64, return_sequences=True), (30, 128), 64),
])
def test_parameter_examples_in_sequential(kwargs, input_shape, units):
    model = Sequential()
    model.add(SimpleRNN(input_shape=input_shape, **kwargs))
    x = np.zeros((2,) + input_shape, np.float32)
    out = model.predict(x, verbose=0)
    expected = (2, input_shape[0], units) if kwargs.get("return_sequences") else (2, units)
    assert out.shape == expected
    d = input_shape[1]
    assert model.count_params() == units * d + units * units + units
    if any(k.endswith("regularizer") for k in kwargs):
        assert len(model.losses) == 1
        # the bias starts at zero, so only the kernel regularizers are positive at first
        assert float(model.losses[0]) > 0 or "bias_regularizer" in kwargs


def test_return_state_example():
    model = Sequential()
    model.add(SimpleRNN(units=128, return_state=True, input_shape=(40, 64)))
    out, state = model.predict(np.ones((2, 40, 64), np.float32), verbose=0)
    assert out.shape == (2, 128) and state.shape == (2, 128)
    np.testing.assert_allclose(out, state)


# --- "RNN Basic" (seed 002): cell + RNN vs SimpleRNN, on one-hot "hello" -----------------
H, E, L, O = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]


@pytest.mark.parametrize("x_data", [
    np.array([[H]], dtype=np.float32),
    np.array([[H, E, L, L, O]], dtype=np.float32),
    np.array([[H, E, L, L, O], [E, O, L, L, L], [L, L, E, E, L]], dtype=np.float32),
])
def test_rnn_basic_cell_and_layer(x_data):
    hidden_size = 2
    cell = SimpleRNNCell(units=hidden_size)
    rnn = RNN(cell, return_sequences=True, return_state=True)
    outputs, states = rnn(x_data)
    assert outputs.shape == (x_data.shape[0], x_data.shape[1], hidden_size)
    assert states.shape == (x_data.shape[0], hidden_size)
    np.testing.assert_allclose(outputs[:, -1], states)  # last output == final state
    rnn_2 = SimpleRNN(units=hidden_size, return_sequences=True, return_state=True)
    outputs, states = rnn_2(x_data)
    assert outputs.shape == (x_data.shape[0], x_data.shape[1], hidden_size)


# --- "tensorflow2.0 framework 30.RNN" (seed 003): MinimalRNNCell -------------------------
class MinimalRNNCell(Layer):
    def __init__(self, units, **kwargs):
        self.units = units
        self.state_size = units
        super(MinimalRNNCell, self).__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="uniform",
                                                name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.dot(inputs, self.kernel)
        output = h + ops.dot(prev_output, self.recurrent_kernel)
        return output, [output]


def test_minimal_rnn_cell_symbolic_and_stacked():
    from rnnkit.layers import Input

    x = Input((None, 5))
    y = RNN(MinimalRNNCell(32))(x)
    assert y.shape == (None, 32)
    y = RNN([MinimalRNNCell(32), MinimalRNNCell(64)])(x)
    assert y.shape == (None, 64)


def test_minimal_rnn_cell_numbers():
    cell = MinimalRNNCell(4)
    layer = RNN(cell, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 6, 5)).astype(np.float32)
    out = np.asarray(layer(x))
    k, u = np.asarray(cell.kernel.value), np.asarray(cell.recurrent_kernel.value)
    h = np.zeros((2, 4), np.float32)
    for t in range(6):
        h = x[:, t] @ k + h @ u
        np.testing.assert_allclose(out[:, t], h, rtol=1e-5, atol=1e-5)


def test_rnn_arguments_from_seed_003():
    cell = SimpleRNNCell(3)
    layer = RNN(cell, return_sequences=False, return_state=False, go_backwards=False,
                stateful=False, unroll=False, time_major=True)
    x = np.random.default_rng(1).normal(size=(7, 2, 4)).astype(np.float32)  # (T, B, D)
    assert layer(x).shape == (2, 3)
