"""How each rnnkit cell's Keras weight layout maps onto other frameworks' layouts.

Keras stores a cell as `kernel` (D, G*H), `recurrent_kernel` (H, G*H) and `bias`, with the
G gate blocks side by side. PyTorch stores `weight_ih` (G*H, D), `weight_hh` (G*H, H),
`bias_ih` and `bias_hh` (G*H,), and ONNX `W` (G*H, D), `R` (G*H, H), `B` (2*G*H,) per
direction. The frameworks order the gate blocks differently; `Layout` says how, per cell
class (looked up through the class, not a kind name).

Gate orders (each framework's documentation):
  LSTM: Keras i, f, c, o; PyTorch i, f, g, o (the same); ONNX i, o, f, c.
  GRU:  Keras z, r, h;    PyTorch r, z, n;              ONNX z, r, h.
Keras's GRU with `reset_after=True` keeps an input and a recurrent bias, which are
PyTorch's `bias_ih`/`bias_hh` and ONNX's `Wb`/`Rb` with `linear_before_reset=1`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell


@dataclass(frozen=True)
class Layout:
    torch_mode: str            # torch.nn.<mode>
    onnx_op: str               # the ONNX operator
    gates: int
    torch_order: tuple         # Keras gate block k goes to position torch_order.index(k)
    onnx_order: tuple


LAYOUTS = {
    LSTMCell: Layout("LSTM", "LSTM", 4, (0, 1, 2, 3), (0, 3, 1, 2)),
    GRUCell: Layout("GRU", "GRU", 3, (1, 0, 2), (0, 1, 2)),
    SimpleRNNCell: Layout("RNN", "RNN", 1, (0,), (0,)),
}
TORCH_MODES = {layout.torch_mode: cls for cls, layout in LAYOUTS.items()}


def layout_of(cell):
    for cls, layout in LAYOUTS.items():
        if isinstance(cell, cls):
            return layout
    raise ValueError(
        f"{type(cell).__name__} has no counterpart in PyTorch/ONNX recurrent layers; only "
        f"{', '.join(c.__name__ for c in LAYOUTS)} (LSTM, GRU, SimpleRNN layers) convert.")


def reorder(blocks_last, order, gates):
    """Gate blocks along the last axis of `blocks_last`, rearranged so that block
    `order[j]` of the input is block j of the output."""
    parts = np.split(np.asarray(blocks_last), gates, axis=-1)
    return np.concatenate([parts[k] for k in order], axis=-1)


def inverse(order):
    out = [0] * len(order)
    for j, k in enumerate(order):
        out[k] = j
    return tuple(out)
