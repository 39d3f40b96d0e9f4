"""Bad input gets a clear error: what was expected, what was received, how to fix it."""

import numpy as np
import pytest

from rnnkit.layers import (GRU, LSTM, RNN, Bidirectional, Layer, LSTMCell, SimpleRNN,
                           StackedRNNCells)

X = np.zeros((2, 4, 3), np.float32)


def test_rank_2_input_suggests_batch_or_feature_axis():
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\).*x\[None\].*"
                                         r"x\[\.\.\., None\]"):
        LSTM(4)(np.zeros((4, 3), np.float32))


def test_rank_4_input_explains_merge():
    with pytest.raises(ValueError, match=r"rank 4.*reshape"):
        GRU(4)(np.zeros((2, 4, 3, 2), np.float32))


def test_feature_size_differs_from_built():
    layer = SimpleRNN(4)
    layer(X)
    with pytest.raises(ValueError, match=r"built for inputs with 3 features.*5 features"):
        layer(np.zeros((2, 4, 5), np.float32))


def test_wrong_number_of_initial_states():
    with pytest.raises(ValueError, match=r"expects 2 initial state.*initial_state=\[h, c\]"):
        LSTM(4)(X, initial_state=[np.zeros((2, 4), np.float32)])


def test_wrong_shape_of_initial_state():
    with pytest.raises(ValueError, match=r"initial states of shapes \[\(2, 4\)\]"):
        GRU(4)(X, initial_state=[np.zeros((2, 5), np.float32)])


def test_mask_shape_not_batch_timesteps():
    with pytest.raises(ValueError, match=r"mask of shape \(batch, timesteps\) = \(2, 4\)"):
        LSTM(4)(X, mask=np.ones((2, 3), bool))


def test_stateful_new_batch_size():
    layer = LSTM(4, stateful=True)
    layer(X)
    with pytest.raises(ValueError, match=r"stateful.*batch of 2 rows.*received a batch of 3"):
        layer(np.zeros((3, 4, 3), np.float32))


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", True, None])
def test_units_must_be_positive_int(units):
    with pytest.raises(ValueError, match=r"`units` to be a positive integer.*Received: units="):
        LSTM(units)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match=r"(?i)unknown activation.*tanhh"):
        SimpleRNN(4, activation="tanhh")


def test_unknown_initializer():
    with pytest.raises(ValueError, match=r"(?i)unknown initializer.*glorot_unifrm"):
        GRU(4, kernel_initializer="glorot_unifrm")


def test_bad_merge_mode():
    with pytest.raises(ValueError, match=r"merge_mode must be one of.*Received: merge_mode='avg'"):
        Bidirectional(LSTM(4), merge_mode="avg")


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_dropout_outside_range_is_an_error_not_clamped(rate):
    with pytest.raises(ValueError, match=r"`dropout` to be a float in \[0, 1\)"):
        LSTM(4, dropout=rate)
    with pytest.raises(ValueError, match=r"`recurrent_dropout` to be a float in \[0, 1\)"):
        GRU(4, recurrent_dropout=rate)


def test_custom_cell_without_state_size():
    class NoStateCell(Layer):
        def call(self, inputs, states):
            return inputs, states

    with pytest.raises(ValueError, match=r"`state_size` attribute.*self.state_size = units"):
        RNN(NoStateCell())


def test_stacked_cells_given_layers():
    with pytest.raises(ValueError, match=r"Use GRUCell\(3\) instead"):
        StackedRNNCells([LSTMCell(3), GRU(3)])


def test_unknown_keyword_argument():
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*retrun_sequences"):
        LSTM(4, retrun_sequences=True)


def test_set_weights_wrong_shapes():
    layer = SimpleRNN(4)
    layer.build((None, 5, 3))
    with pytest.raises(ValueError, match=r"has shape \(3, 4\).*received an array of shape"):
        layer.set_weights([np.zeros((2, 4)), np.zeros((4, 4)), np.zeros(4)])
    with pytest.raises(ValueError, match=r"expects 3 weight arrays"):
        layer.set_weights([np.zeros((3, 4))])


@pytest.mark.parametrize("layer_cls", [SimpleRNN, LSTM, GRU])
def test_nan_and_inf_inputs_compute_as_ieee(layer_cls):
    x = np.ones((2, 4, 3), np.float32)
    x[0, 1, 0] = np.nan
    x[1, 2, 1] = np.inf
    out = np.asarray(layer_cls(4, return_sequences=True)(x))
    assert np.isnan(out[0, 1:]).any()  # NaN propagates from its step on
    assert np.isfinite(out[0, 0]).all() and np.isfinite(out[1, :2]).all()
