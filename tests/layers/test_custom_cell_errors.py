"""Hardening (issue 12, defect 11): errors in a custom cell's or layer's `call` say what to
write instead, with only the notes that apply."""

import jax.numpy as jnp
import numpy as np
import pytest

import rnnkit
from rnnkit.layers import RNN, AbstractRNNCell, Layer

X = np.ones((2, 3, 5), np.float32)


class _Cell(AbstractRNNCell):
    def __init__(self, units, step):
        super().__init__()
        self.units = units
        self.step = step

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")

    def call(self, inputs, states):
        h = self.step(self, inputs, states)
        return h, [h]


def _fails(step):
    RNN(_Cell(4, step))(X)


def test_jnp_function_on_a_variable_names_the_fix():
    with pytest.raises(TypeError) as info:
        _fails(lambda self, x, s: jnp.tanh(x @ jnp.exp(self.w) + s[0]))
    msg = str(info.value)
    assert "rnnkit.ops.exp(self.w)" in msg and "jnp.exp(self.w.value)" in msg
    assert "jnp.exp(self.w)" in msg  # the user's line is quoted
    assert "states[0]" not in msg.split("`")[-1] and "project the input" not in msg


def test_fix_names_the_function_and_its_other_arguments():
    with pytest.raises(TypeError, match=r"(?s)rnnkit\.ops\.matmul\(x, self\.w\).*"
                                        r"jnp\.matmul\(x, self\.w\.value\)"):
        _fails(lambda self, x, s: jnp.matmul(x, self.w) + s[0])


def test_suggested_fixes_work():
    for step in (lambda self, x, s: jnp.tanh(x @ rnnkit.ops.exp(self.w) + s[0]),
                 lambda self, x, s: jnp.tanh(x @ jnp.exp(self.w.value) + s[0])):
        assert RNN(_Cell(4, step))(X).shape == (2, 4)


def test_custom_layer_gets_the_same_fix():
    class Scale(Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), name="w")

        def call(self, inputs):
            return inputs * jnp.exp(self.w)

    with pytest.raises(TypeError, match=r"(?s)Scale 'scale.*'.call.*rnnkit\.ops\.exp\(self\.w\)"):
        Scale()(X)


def test_states_note_only_when_states_are_used_as_an_array():
    with pytest.raises(ValueError,
                       match=r"(?s)list.*Notes: `states` is passed as a list") as info:
        _fails(lambda self, x, s: rnnkit.ops.matmul(x, self.w) + rnnkit.ops.matmul(s, s))
    assert "project the input" not in str(info.value)


def test_projection_note_only_when_input_and_state_sizes_clash():
    with pytest.raises(ValueError, match=r"Notes: To combine the input \(5 features\) with a "
                                         r"state of 4 units") as info:
        _fails(lambda self, x, s: x + s[0])
    assert "states[0]" not in str(info.value).split("Notes:")[1]


def test_unrelated_error_gets_no_notes():
    with pytest.raises(ValueError, match=r"cannot reshape") as info:
        _fails(lambda self, x, s: jnp.reshape(x @ self.w.value + s[0], (7,)))
    assert "Notes" not in str(info.value)
