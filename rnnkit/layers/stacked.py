"""`AbstractRNNCell` (base of custom cells) and `StackedRNNCells` (a deep RNN's cells, run
one after the other at each step). The protocol they follow: rnnkit.layers.cell_protocol."""

from __future__ import annotations

from rnnkit.layers.cell_protocol import cell_step, check_cell, flat_sizes
from rnnkit.layers.layer import Layer
from rnnkit.layers.serialization import deserialize, serialize


class AbstractRNNCell(Layer):
    """Base class for custom cells (tf.keras 2 `AbstractRNNCell`).

    Subclasses implement `call(inputs, states) -> (output, new_states)`, where `states` is a
    list of (B, size) arrays, and define `state_size` (defaults to `self.units` if set).
    """

    @property
    def state_size(self):
        units = self.__dict__.get("units")
        if units is None:
            raise NotImplementedError("Subclasses of AbstractRNNCell must define state_size.")
        return units

    @property
    def output_size(self):
        return flat_sizes(self.state_size)[0]

    def get_initial_state(self, batch_size=None):
        import jax.numpy as jnp

        return [jnp.zeros((batch_size, s), self.dtype) for s in flat_sizes(self.state_size)]


class StackedRNNCells(Layer):
    """Runs several cells one after the other at each time step (a deep RNN).

    States are one list per cell: `[[h1, c1], [h2]]` for an LSTMCell then a GRUCell.
    """

    def __init__(self, cells, **kwargs):
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"StackedRNNCells expects a non-empty list of cells. "
                             f"Received: {cells!r}.")
        for cell in cells:
            check_cell(cell, where="StackedRNNCells")
        super().__init__(**kwargs)
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        return getattr(last, "output_size", flat_sizes(last.state_size)[0])

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if not cell.built:
                cell.build(shape)
                cell.built = True
            out = getattr(cell, "output_size", flat_sizes(cell.state_size)[0])
            shape = (shape[0], out)
        self.built = True

    def get_initial_state(self, batch_size=None):
        import jax.numpy as jnp

        return [[jnp.zeros((batch_size, s), self.dtype) for s in flat_sizes(c.state_size)]
                for c in self.cells]

    def rnn_step(self, batch, input_dim, training):
        steps, dim = [], input_dim
        for cell in self.cells:
            steps.append(cell_step(cell, batch, dim, training))
            dim = getattr(cell, "output_size", flat_sizes(cell.state_size)[0])

        def step(x, states):
            new_states = []
            for cell_fn, cell_states in zip(steps, states):
                x, s = cell_fn(x, list(cell_states))
                new_states.append(s)
            return x, new_states

        return step

    def call(self, inputs, states, training=None):
        return self.rnn_step(inputs.shape[0], inputs.shape[-1], training)(inputs, states)

    def get_config(self):
        config = super().get_config()
        config["cells"] = [serialize(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cells"] = [deserialize(c) for c in config["cells"]]
        return cls(**config)
