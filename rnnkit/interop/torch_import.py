"""`from_torch`: a PyTorch `nn.LSTM` / `nn.GRU` / `nn.RNN` (its state dict and constructor
arguments) as an rnnkit layer that takes and returns PyTorch's layouts exactly.

Each torch layer becomes one Keras-style rnnkit layer (`LSTM`, `GRU(reset_after=True)`,
`SimpleRNN`, or a `Bidirectional` of one), reachable as `.layers`, so they can also be
put into your own models."""

from __future__ import annotations

import numpy as np

from rnnkit import layers as L
from rnnkit.interop.layouts import LAYOUTS, TORCH_MODES, inverse, reorder
from rnnkit.layers.layer import Layer

_CTOR = ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
         "dropout", "bidirectional", "proj_size", "nonlinearity")


def _keys(num_layers, bidirectional, bias):
    out = []
    for layer in range(num_layers):
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
            out.extend(f"{n}_l{layer}{suffix}" for n in names)
    return out


def _as_numpy(value, key):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"state_dict['{key}'] must be an array; received "
                        f"{type(value).__name__}.") from None


def _from_module(module):
    mode = type(module).__name__
    kwargs = {"mode": mode, "input_size": module.input_size,
              "hidden_size": module.hidden_size, "num_layers": module.num_layers,
              "bias": module.bias, "batch_first": module.batch_first,
              "dropout": float(module.dropout), "bidirectional": module.bidirectional,
              "proj_size": getattr(module, "proj_size", 0)}
    if mode == "RNN":
        kwargs["nonlinearity"] = module.nonlinearity
    return module.state_dict(), kwargs


def _check_ctor(mode, input_size, hidden_size, num_layers, proj_size, nonlinearity):
    if mode not in TORCH_MODES:
        raise ValueError(f"mode={mode!r} is not a torch recurrent layer rnnkit converts; "
                         f"expected one of {sorted(TORCH_MODES)} (torch.nn.LSTM/GRU/RNN).")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int (torch.nn.{mode}'s argument); "
                             f"received {value!r}.")
    if proj_size:
        raise ValueError(f"proj_size={proj_size} (an LSTM with projections) has no Keras "
                         "equivalent; only proj_size=0 converts.")
    if mode == "RNN" and nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu' for torch.nn.RNN; "
                         f"received {nonlinearity!r}.")


def from_torch(state_dict, mode=None, input_size=None, hidden_size=None, num_layers=1,
               bias=True, batch_first=False, dropout=0.0, bidirectional=False,
               proj_size=0, nonlinearity="tanh"):
    """A `TorchRNN` layer computing what `torch.nn.<mode>(...)` with `state_dict` computes.

    `state_dict`: a mapping with exactly the module's keys (`weight_ih_l0`, ...), numpy
    arrays or torch tensors; or the `nn.LSTM` / `nn.GRU` / `nn.RNN` module itself (then
    the other arguments are read from it). The other arguments are torch's own.
    """
    if hasattr(state_dict, "state_dict") and hasattr(state_dict, "hidden_size"):
        state_dict, kwargs = _from_module(state_dict)
        return from_torch(state_dict, **kwargs)
    if not hasattr(state_dict, "keys"):
        raise TypeError("from_torch expects a state dict (a mapping of torch's keys to "
                        f"arrays) or an nn.LSTM/GRU/RNN module; received "
                        f"{type(state_dict).__name__}.")
    _check_ctor(mode, input_size, hidden_size, num_layers, proj_size, nonlinearity)
    expected = _keys(num_layers, bidirectional, bias)
    got = list(state_dict.keys())
    missing = [k for k in expected if k not in state_dict]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        raise ValueError(
            f"The state dict does not match torch.nn.{mode}(num_layers={num_layers}, "
            f"bidirectional={bidirectional}, bias={bias}): missing keys {missing}, "
            f"unexpected keys {extra}. Pass the constructor arguments the module was "
            "built with (or the module itself).")
    gates = LAYOUTS[TORCH_MODES[mode]].gates
    dirs = 2 if bidirectional else 1
    arrays = {}
    for k in expected:
        a = _as_numpy(state_dict[k], k)
        layer = int(k.split("_l")[1].split("_")[0])
        in_dim = input_size if layer == 0 else hidden_size * dirs
        want = {"weight_ih": (gates * hidden_size, in_dim),
                "weight_hh": (gates * hidden_size, hidden_size),
                "bias_ih": (gates * hidden_size,),
                "bias_hh": (gates * hidden_size,)}[k.split("_l")[0]]
        if tuple(a.shape) != want:
            raise ValueError(f"state_dict['{k}'] has shape {tuple(a.shape)}; "
                             f"torch.nn.{mode}(input_size={input_size}, hidden_size="
                             f"{hidden_size}) has {want} there.")
        arrays[k] = a
    return TorchRNN(arrays, mode=mode, input_size=input_size, hidden_size=hidden_size,
                    num_layers=num_layers, bias=bias, batch_first=batch_first,
                    dropout=dropout, bidirectional=bidirectional, nonlinearity=nonlinearity)


def _keras_weights(arrays, prefix, mode, bias, hidden):
    """Keras `[kernel, recurrent_kernel, bias]` from torch's arrays for one direction."""
    layout = LAYOUTS[TORCH_MODES[mode]]
    order = inverse(layout.torch_order)
    kernel = reorder(arrays[f"weight_ih{prefix}"].T, order, layout.gates)
    recurrent = reorder(arrays[f"weight_hh{prefix}"].T, order, layout.gates)
    if not bias:
        return [kernel, recurrent]
    b_ih = reorder(arrays[f"bias_ih{prefix}"], order, layout.gates)
    b_hh = reorder(arrays[f"bias_hh{prefix}"], order, layout.gates)
    if mode == "GRU":  # reset_after=True keeps both biases: rows (input, recurrent)
        return [kernel, recurrent, np.stack([b_ih, b_hh])]
    return [kernel, recurrent, b_ih + b_hh]


def _keras_layer(mode, hidden, bias, nonlinearity, go_backwards=False, name=None):
    common = dict(return_sequences=True, return_state=True, use_bias=bias,
                  go_backwards=go_backwards, name=name)
    if mode == "LSTM":
        return L.LSTM(hidden, unit_forget_bias=False, **common)
    if mode == "GRU":
        return L.GRU(hidden, reset_after=True, **common)
    return L.SimpleRNN(hidden, activation=nonlinearity, **common)


class TorchRNN(Layer):
    """torch.nn.LSTM/GRU/RNN semantics over rnnkit layers.

    Call: `m(x)`, `m(x, h0)` (GRU/RNN) or `m(x, (h0, c0))` (LSTM), with torch's layouts:
    `x` (B, T, D) if batch_first else (T, B, D); states (num_layers * num_directions, B,
    H). Returns `(output, h_n)` for GRU/RNN and `(output, h_n, c_n)` for LSTM.
    `.layers` are the Keras-style layers (one per torch layer, Bidirectional when
    bidirectional), usable in your own models.
    """

    def __init__(self, arrays, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, nonlinearity="tanh",
                 name=None):
        super().__init__(name=name or f"torch_{mode.lower()}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.nonlinearity = nonlinearity
        self.n_states = 2 if mode == "LSTM" else 1
        rnn_layers = []
        for i in range(num_layers):
            in_dim = input_size if i == 0 else hidden_size * (2 if bidirectional else 1)
            fwd = _keras_layer(mode, hidden_size, bias, nonlinearity, name=f"l{i}")
            if bidirectional:
                bwd = _keras_layer(mode, hidden_size, bias, nonlinearity, go_backwards=True,
                                   name=f"l{i}_reverse")
                layer = L.Bidirectional(fwd, backward_layer=bwd, merge_mode="concat",
                                        name=f"bidirectional_l{i}")
                layer.build((None, None, in_dim))
                layer.set_weights(
                    _keras_weights(arrays, f"_l{i}", mode, bias, hidden_size)
                    + _keras_weights(arrays, f"_l{i}_reverse", mode, bias, hidden_size))
            else:
                layer = fwd
                layer.build((None, None, in_dim))
                layer.set_weights(_keras_weights(arrays, f"_l{i}", mode, bias, hidden_size))
            rnn_layers.append(layer)
        self.rnn_layers = rnn_layers
        self.dropout_layer = L.Dropout(self.dropout) if self.dropout else None
        self.built = True

    @property
    def layers(self):
        return list(self.rnn_layers)

    def _split_state(self, hx, batch):
        dirs = 2 if self.bidirectional else 1
        want = (self.num_layers * dirs, batch, self.hidden_size)
        if hx is None:
            return None
        states = list(hx) if self.n_states == 2 else [hx]
        if self.n_states == 2 and len(states) != 2:
            raise ValueError("An LSTM's initial state is the pair (h0, c0).")
        for s in states:
            if tuple(s.shape) != want:
                raise ValueError(f"Initial states must have shape (num_layers * "
                                 f"num_directions, batch, hidden_size) = {want}; received "
                                 f"{tuple(s.shape)}.")
        return states

    def call(self, inputs, hx=None, training=None):
        import jax.numpy as jnp

        x = inputs if self.batch_first else jnp.swapaxes(inputs, 0, 1)
        states = self._split_state(hx, x.shape[0])
        dirs = 2 if self.bidirectional else 1
        finals = [[] for _ in range(self.n_states)]
        for i, layer in enumerate(self.rnn_layers):
            kwargs = {}
            if states is not None:
                init = []
                for d in range(dirs):
                    init.extend(s[i * dirs + d] for s in states)
                kwargs["initial_state"] = init
            if i and self.dropout_layer is not None:
                x = self.dropout_layer(x, training=training)
            out = layer(x, **kwargs)
            x = out[0]
            for d in range(dirs):
                for s in range(self.n_states):
                    finals[s].append(out[1 + d * self.n_states + s])
        output = x if self.batch_first else jnp.swapaxes(x, 0, 1)
        stacked = [jnp.stack(f) for f in finals]
        return (output, *stacked)

    def get_config(self):
        raise NotImplementedError(
            "A TorchRNN is rebuilt from a state dict (rnnkit.interop.from_torch); save its "
            "Keras layers inside a Model, or its weights with to_torch_state_dict.")
