"""`to_torch_state_dict`: rnnkit recurrent layers as a PyTorch state dict (numpy arrays with
torch's keys and layouts), so a model trained in rnnkit loads into `torch.nn.LSTM` /
`nn.GRU` / `nn.RNN` with `module.load_state_dict({k: torch.from_numpy(v) ...})`."""

from __future__ import annotations

import numpy as np

from rnnkit.interop.layouts import layout_of, reorder
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.rnn import RNN


def _activation_name(fn):
    from rnnkit import activations

    try:
        return activations.serialize(fn)
    except ValueError:
        return getattr(fn, "__name__", repr(fn))


def _check_cell(layer, layout):
    cell = layer.cell
    name = f"layer '{layer.name}'"
    if getattr(cell, "reset_after", True) is False:
        raise ValueError(
            f"Cannot convert {name}: a GRU with reset_after=False applies the reset gate "
            "before the recurrent matmul, which torch.nn.GRU cannot do (it always applies it "
            "after, like Keras's reset_after=True). Train with GRU(reset_after=True).")
    act = _activation_name(cell.activation)
    if layout.torch_mode == "RNN":
        if act not in ("tanh", "relu"):
            raise ValueError(f"Cannot convert {name}: torch.nn.RNN's nonlinearity is 'tanh' "
                             f"or 'relu'; this SimpleRNN uses {act!r}.")
        return act
    ract = _activation_name(cell.recurrent_activation)
    if act != "tanh" or ract != "sigmoid":
        raise ValueError(
            f"Cannot convert {name}: torch.nn.{layout.torch_mode} computes activation='tanh' "
            f"and recurrent_activation='sigmoid'; this layer uses {act!r} and {ract!r} "
            "(Keras's hard_sigmoid has no torch equivalent).")
    return "tanh"


def _direction(layer, layout, suffix):
    cell = layer.cell
    gates = layout.gates
    kernel, recurrent = np.asarray(cell.kernel.numpy()), np.asarray(
        cell.recurrent_kernel.numpy())
    out = {f"weight_ih{suffix}": reorder(kernel, layout.torch_order, gates).T.copy(),
           f"weight_hh{suffix}": reorder(recurrent, layout.torch_order, gates).T.copy()}
    if cell.use_bias:
        bias = np.asarray(cell.bias.numpy())
        if bias.ndim == 2:  # GRU reset_after: rows (input, recurrent)
            b_ih, b_hh = bias[0], bias[1]
        else:
            b_ih, b_hh = bias, np.zeros_like(bias)
        out[f"bias_ih{suffix}"] = reorder(b_ih, layout.torch_order, gates)
        out[f"bias_hh{suffix}"] = reorder(b_hh, layout.torch_order, gates)
    return out


def _recurrent_layers(obj):
    from rnnkit.interop.torch_import import TorchRNN

    if isinstance(obj, TorchRNN):
        return obj.layers
    if isinstance(obj, (RNN, Bidirectional)):
        return [obj]
    layers = getattr(obj, "layers", None)
    if layers is None:
        raise TypeError(f"to_torch_state_dict expects a recurrent layer (LSTM, GRU, "
                        f"SimpleRNN, Bidirectional), a model or a TorchRNN; received "
                        f"{type(obj).__name__}.")
    for layer in layers:
        if getattr(layer, "mask_zero", False) or type(layer).__name__ == "Masking":
            raise ValueError(
                f"Cannot convert model '{obj.name}': its layer '{layer.name}' masks padded "
                "steps, which torch.nn recurrent layers do not (they need "
                "pack_padded_sequence). Convert the recurrent layers themselves "
                "(to_torch_state_dict(model.get_layer(name))) and pack the sequences in "
                "torch.")
    found = [layer for layer in layers if isinstance(layer, (RNN, Bidirectional))]
    if not found:
        raise ValueError(f"Model '{obj.name}' has no recurrent layer to convert.")
    return found


def to_torch_state_dict(layer_or_model) -> dict:
    """`{key: numpy array}` as `torch.nn.<mode>(...).state_dict()` has them.

    A single layer gives `num_layers=1`; a model's recurrent layers (in `model.layers`
    order) become torch's stacked layers `_l0, _l1, ...` (all must be the same kind and
    size, each feeding the next). Bidirectional layers give the `_reverse` keys.
    """
    stack = _recurrent_layers(layer_or_model)
    out = {}
    first = None
    for i, layer in enumerate(stack):
        if isinstance(layer, Bidirectional):
            if layer.merge_mode != "concat":
                raise ValueError(f"Cannot convert Bidirectional layer '{layer.name}': torch "
                                 f"concatenates the two directions; its merge_mode is "
                                 f"{layer.merge_mode!r}.")
            directions = [(layer.forward_layer, ""), (layer.backward_layer, "_reverse")]
        else:
            if getattr(layer, "go_backwards", False):
                raise ValueError(f"Cannot convert layer '{layer.name}': go_backwards=True "
                                 "has no torch equivalent outside a bidirectional layer.")
            directions = [(layer, "")]
        if not directions[0][0].built:
            raise ValueError(f"Layer '{layer.name}' is not built yet (no weights); call it "
                             "on data or build the model first.")
        for sub, suffix in directions:
            layout = layout_of(sub.cell)
            act = _check_cell(sub, layout)
            sig = (layout.torch_mode, sub.cell.units, bool(sub.cell.use_bias), act,
                   len(directions))
            if first is None:
                first = sig
            elif sig != first:
                raise ValueError(
                    f"Cannot convert: torch stacks layers of one kind and size, but layer "
                    f"'{sub.name}' is {sig[:4]} while the first is {first[:4]}. Convert "
                    "the layers one by one.")
            out.update(_direction(sub, layout, f"_l{i}{suffix}"))
    return out
