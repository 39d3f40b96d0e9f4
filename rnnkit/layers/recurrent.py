"""`SimpleRNN`, `LSTM`, `GRU`: an `RNN` around the matching built-in cell."""

from __future__ import annotations

from rnnkit.utils.names import to_snake_case
from rnnkit.layers.rnn import RNN
from rnnkit.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell

_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "time_major", "zero_output_for_mask")
_BASE_ARGS = ("name", "trainable", "dtype", "activity_regularizer", "input_shape",
              "input_dim", "batch_input_shape", "batch_size")
_CELL_CONFIG_SKIP = ("name", "trainable", "dtype")


class CellLayer(RNN):
    """An RNN whose cell (`_cell_class`) is built from the layer's own keyword arguments:
    those of `RNN` and of `Layer` go to the layer, the rest to the cell."""

    _cell_class = None

    def __init__(self, *args, **kwargs):  # the cell's arguments: units, ...
        rnn_kwargs = {k: kwargs.pop(k) for k in _RNN_ARGS + _BASE_ARGS if k in kwargs}
        cell_kwargs = dict(kwargs)
        cell_kwargs.setdefault("dtype", rnn_kwargs.get("dtype"))
        cell_kwargs["name"] = to_snake_case(self._cell_class.__name__)
        try:
            cell = self._cell_class(*args, **cell_kwargs)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}: {err}") from None
        super().__init__(cell, **rnn_kwargs)

    def __getattr__(self, name):
        # Keras exposes the cell's configuration on the layer: layer.units, layer.dropout...
        cell = self.__dict__.get("cell")
        if cell is not None and not name.startswith("_") and hasattr(cell, name):
            return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        config = {k: v for k, v in self.cell.get_config().items()
                  if k not in _CELL_CONFIG_SKIP}
        config.update(super().get_config())
        return config


class _CellLayer(CellLayer):
    """Keras' SimpleRNN / LSTM / GRU: a `CellLayer` that also takes (and ignores, there being
    no cuDNN here) `use_cudnn`."""

    def __init__(self, units, use_cudnn="auto", **kwargs):
        self.use_cudnn = use_cudnn
        super().__init__(units, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["use_cudnn"] = self.use_cudnn
        return config


class SimpleRNN(_CellLayer):
    """Fully-connected RNN: `h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)`.

    Input (B, T, D) -> output (B, units), or (B, T, units) with return_sequences=True.
    Weights: kernel (D, units), recurrent_kernel (units, units), bias (units,).
    """

    _cell_class = SimpleRNNCell

    def __init__(self, units, activity_regularizer=None, **kwargs):
        # Keras 3 SimpleRNN accepts `activity_regularizer` but never hands it on: it adds
        # no loss and its config says None. Same here, so the numbers match.
        del activity_regularizer
        super().__init__(units, **kwargs)


class LSTM(_CellLayer):
    """Long Short-Term Memory layer (Hochreiter 1997), Keras gate order i, f, c, o.

    Input (B, T, D) -> output (B, units) or (B, T, units); states [h, c], each (B, units).
    Weights: kernel (D, 4*units), recurrent_kernel (units, 4*units), bias (4*units,).
    """

    _cell_class = LSTMCell


class GRU(_CellLayer):
    """Gated Recurrent Unit (Cho et al. 2014), Keras gate order z, r, h.

    Input (B, T, D) -> output (B, units) or (B, T, units); state h (B, units).
    Weights: kernel (D, 3*units), recurrent_kernel (units, 3*units), bias (2, 3*units) with
    reset_after=True (default) or (3*units,).
    """

    _cell_class = GRUCell
