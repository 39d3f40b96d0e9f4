"""The cell protocol: what `RNN` and `StackedRNNCells` need from a cell, and how they step it.

A cell has `state_size` (an int, or a list of ints, one per state) and
`call(inputs, states) -> (output, new_states)` with `states` a list of (B, size) arrays.
Built-in cells also offer `rnn_step(batch, input_dim, training)`, a step with its dropout
masks drawn once per sequence.
"""

from __future__ import annotations

import inspect
import re

from rnnkit.variables import user_line


def flat_sizes(state_size) -> list[int]:
    """`64` -> [64]; `[64, 64]` -> [64, 64]."""
    if isinstance(state_size, (list, tuple)):
        return [int(s) for s in state_size]
    return [int(state_size)]


class UnitsCell:
    """Mixin of a cell whose one state and output are `units` wide (most built-in cells)."""

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units


def check_cell(cell, where: str):
    """Raises a clear error unless `cell` follows the Keras cell protocol."""
    if getattr(type(cell), "runs_sequences", False):
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
