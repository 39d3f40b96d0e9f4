"""The cell protocol: `AbstractRNNCell`, `StackedRNNCells`, and how `RNN` steps any cell."""

from __future__ import annotations

import inspect
import re

from rnnkit.layers.layer import Layer
from rnnkit.variables import user_line


def flat_sizes(state_size) -> list[int]:
    """`64` -> [64]; `[64, 64]` -> [64, 64]."""
    if isinstance(state_size, (list, tuple)):
        return [int(s) for s in state_size]
    return [int(state_size)]


def check_cell(cell, where: str):
    """Raises a clear error unless `cell` follows the Keras cell protocol."""
    from rnnkit.layers.rnn import RNN

    if isinstance(cell, RNN):
        cls = type(cell).__name__
        fix = f"{cls}Cell({cell.cell.units})" if hasattr(cell.cell, "units") and cls in (
            "LSTM", "GRU", "SimpleRNN") else "the matching cell class"
        raise ValueError(
            f"{where} expects RNN cells, but received the {cls} layer '{cell.name}'. A layer "
            f"runs a whole sequence; a cell runs one step. Use {fix} instead, e.g. "
            f"RNN([{fix}, {fix}]) or StackedRNNCells([{fix}, {fix}]); or stack layers with "
            f"return_sequences=True on all but the last."
        )
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{where} expects a cell with a `call(inputs, states)` method. "
                         f"Received: {cell!r}.")
    try:
        size = cell.state_size
    except (AttributeError, NotImplementedError):
        size = None
    if size is None:
        raise ValueError(
            f"{where} expects a cell with a `state_size` attribute (an int, or a list of "
            f"ints, one per state). The cell {type(cell).__name__} has none. Set it in "
            f"__init__, e.g. `self.state_size = units`."
        )


def _accepts(fn, name):
    params = inspect.signature(fn).parameters
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def cell_step(cell, batch, input_dim, training, constants=None):
    """`(x_t, states) -> (y_t, new_states)` for one sequence of `cell`.

    Built-in cells provide `rnn_step` (dropout masks drawn once per sequence); any other
    cell is called through its `call`, and errors in it are explained.
    """
    if hasattr(cell, "rnn_step") and constants is None:
        return cell.rnn_step(batch, input_dim, training)
    sizes = flat_sizes(cell.state_size)

    def step(x, states):
        kwargs = {}
        if constants is not None:
            if not _accepts(cell.call, "constants"):
                raise ValueError(f"`constants` were passed, but the cell "
                                 f"{type(cell).__name__}.call does not accept `constants`.")
            kwargs["constants"] = constants
        if training is not None and _accepts(cell.call, "training"):
            kwargs["training"] = training
        try:
            output, new_states = cell(x, list(states), **kwargs)
        except (TypeError, ValueError) as err:
            raise _cell_error(cell, err, x, states, sizes) from err
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        new_states = list(new_states)
        got = [tuple(s.shape) for s in new_states]
        want = [(x.shape[0], n) for n in sizes]
        if got != want:
            raise ValueError(
                f"The cell {type(cell).__name__} returned new states of shapes {got}, but its "
                f"state_size {cell.state_size!r} means shapes {want}. Return one state per "
                f"entry of state_size, each (batch, size).")
        return output, new_states

    return step


def _cell_error(cell, err, x, states, sizes):
    """The error of a custom cell's `call`, with the notes that apply to it."""
    msg = str(err)
    head = (f"The cell {type(cell).__name__} failed on an input step of shape "
            f"{tuple(x.shape)} with states of shapes {[tuple(s.shape) for s in states]}")
    if getattr(err, "explains_variable_misuse", False):
        explained = TypeError(f"{head}: {msg}")  # with the fix; no other note applies
        explained.explains_variable_misuse = True
        return explained
    head += f"{user_line(err)}: {msg}"
    notes = []
    if "list" in msg:
        notes.append("`states` is passed as a list (read `states[0]`).")
    if x.shape[-1] != sizes[0] and re.search(r"broadcast|operand type\(s\) for [-+*/]", msg):
        notes.append(f"To combine the input ({x.shape[-1]} features) with a state of "
                     f"{sizes[0]} units, project the input to `units` first: create a kernel "
                     f"of shape ({x.shape[-1]}, {sizes[0]}) in build() and use "
                     "ops.matmul(inputs, self.kernel).")
    return ValueError(head + (f"\nNotes: {' '.join(notes)}" if notes else ""))


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
        from rnnkit.layers.serialization import serialize

        config = super().get_config()
        config["cells"] = [serialize(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config):
        from rnnkit.layers.serialization import deserialize

        config = dict(config)
        config["cells"] = [deserialize(c) for c in config["cells"]]
        return cls(**config)
