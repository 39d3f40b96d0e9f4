"""Random case configurations for `tools.keras_crosscheck`, in the golden data's format.

Each generator takes a `random.Random` and a NumPy `Generator` and returns `(cfg, arrays)`:
`cfg` follows the config schema of tests/fixtures/keras_golden/README.md (kinds "layer",
"model", "train"; object specs `{"__class__", "__module__", "kwargs"}`), `arrays` holds the
inputs it names (`x`, `x_1`, `initial_state_i`, `mask`, `target`). Weights and outputs are
added by the runner (weights need the built layer's shapes, outputs come from Keras).
Cases stay tiny (batch <= 4, T <= 8, units <= 5) so hundreds run in minutes.
"""

from __future__ import annotations

import numpy as np

RNN_LAYERS = ("SimpleRNN", "LSTM", "GRU")
CELL_OF = {"SimpleRNN": "SimpleRNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell"}
N_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "hard_sigmoid", "softsign", "elu",
               "swish", "gelu", "relu6")
RECURRENT_ACTIVATIONS = ("sigmoid", "hard_sigmoid", "relu", "linear", "tanh")
MERGE_MODES = ("concat", "sum", "mul", "ave", None)
# rarer activations (and None, Keras' "linear"), drawn now and then
MORE_ACTIVATIONS = (None, "selu", "softplus", "mish", "silu", "hard_silu", "leaky_relu",
                    "exponential")

# category -> relative frequency when no --category is given (the golden counts)
CATEGORY_WEIGHTS = {"basic": 46, "initial_state": 13, "mask": 27, "stateful": 7,
                    "rnn_cells": 17, "bidirectional": 44, "dropout_inference": 10,
                    "regularizers": 10, "masking_model": 11, "model": 10, "train": 14,
                    "convlstm": 22}


def spec(cls, module="layers", args=None, **kwargs):
    out = {"__class__": cls, "__module__": module, "kwargs": kwargs}
    if args is not None:
        out["args"] = list(args)
    return out


def _f32(rng, *shape, scale=1.0):
    return rng.uniform(-scale, scale, size=shape).astype(np.float32)


# --- layer kwargs ------------------------------------------------------------------------

def cell_kwargs(r, kind, *, dropout=False):
    """Kwargs shared by a layer and its cell: units, activations, bias options."""
    kw = {"units": r.randint(1, 5)}
    if r.random() < 0.35:
        kw["activation"] = r.choice(ACTIVATIONS if r.random() < 0.7 else MORE_ACTIVATIONS)
    if kind != "SimpleRNN" and r.random() < 0.35:
        kw["recurrent_activation"] = r.choice(RECURRENT_ACTIVATIONS)
    if r.random() < 0.2:
        kw["use_bias"] = False
    if kind == "LSTM" and r.random() < 0.3:
        kw["unit_forget_bias"] = False
    if kind == "GRU" and r.random() < 0.4:
        kw["reset_after"] = False
    if dropout:
        if r.random() < 0.8:
            kw["dropout"] = r.choice((0.1, 0.3, 0.5))
        if r.random() < 0.8:
            kw["recurrent_dropout"] = r.choice((0.1, 0.3, 0.5))
    return kw


def seq_kwargs(r, *, p_seq=0.5, p_state=0.4, p_back=0.3, p_unroll=0.2, p_zero=0.0):
    kw = {}
    if r.random() < p_seq:
        kw["return_sequences"] = True
    if r.random() < p_state:
        kw["return_state"] = True
    if r.random() < p_back:
        kw["go_backwards"] = True
    if r.random() < p_unroll:
        kw["unroll"] = True
    if r.random() < p_zero:
        kw["zero_output_for_mask"] = r.random() < 0.7
    return kw


def rnn_layer(r, kind=None, *, dropout=False, **seq):
    kind = kind or r.choice(RNN_LAYERS)
    kw = cell_kwargs(r, kind, dropout=dropout)
    kw.update(seq_kwargs(r, **seq))
    return spec(kind, **kw)


def layer_states(layer_spec):
    """Number of states and their sizes for a layer spec, nested like Keras' initial_state."""
    cls, kw = layer_spec["__class__"], layer_spec["kwargs"]
    if cls in RNN_LAYERS:
        return [kw["units"]] * N_STATES[cls]
    if cls == "RNN":
        cells = _cells_of(kw["cell"])
        if isinstance(cells, list):
            return [_cell_states(c) for c in cells]
        return _cell_states(cells)
    raise ValueError(cls)


def _cells_of(cell):
    """An RNN's `cell` argument as one cell spec or a list of them (StackedRNNCells opened)."""
    if isinstance(cell, dict) and cell["__class__"] == "StackedRNNCells":
        return cell["kwargs"]["cells"]
    return cell


def _cell_states(c):
    kind = {v: k for k, v in CELL_OF.items()}[c["__class__"]]
    return [c["kwargs"]["units"]] * N_STATES[kind]


def _state_arrays(rng, sizes, batch, arrays, counter):
    out = []
    for s in sizes:
        if isinstance(s, list):
            out.append(_state_arrays(rng, s, batch, arrays, counter))
        else:
            key = f"initial_state_{counter[0]}"
            counter[0] += 1
            arrays[key] = _f32(rng, batch, s)
            out.append(key)
    return out


def make_mask(r, batch, steps):
    """Rows drawn from: all on, post padding, pre padding, gaps, all off, one step."""
    rows = []
    for _ in range(batch):
        pattern = r.choice(("all", "post", "post", "pre", "gaps", "none", "one"))
        k = r.randint(1, steps)
        if pattern == "all":
            row = [True] * steps
        elif pattern == "post":
            row = [t < k for t in range(steps)]
        elif pattern == "pre":
            row = [t >= steps - k for t in range(steps)]
        elif pattern == "gaps":
            row = [r.random() < 0.6 for _ in range(steps)]
        elif pattern == "none":
            row = [False] * steps
        else:
            row = [t == r.randrange(steps) for t in range(steps)]
        rows.append(row)
    return np.asarray(rows, dtype=bool)


def _call(inputs="x", initial_state=None, mask=None, training=None, reset=False):
    return {"inputs": inputs, "initial_state": initial_state, "mask": mask,
            "training": training, "reset_states_before": reset}


def layer_case(category, layer_spec, arrays, shape, calls, **extra):
    cfg = {"category": category, "kind": "layer", "layer": layer_spec["__class__"],
           "spec": layer_spec, "build_input_shape": list(shape), "calls": calls}
    cfg.update(extra)
    return cfg, arrays


def _shape(r):
    return [r.randint(1, 4), r.randint(1, 8), r.randint(1, 5)]


# --- layer categories ----------------------------------------------------------------------

def gen_basic(r, rng):
    shape = _shape(r)
    layer = rnn_layer(r)
    return layer_case("basic", layer, {"x": _f32(rng, *shape)}, shape, [_call()])


def gen_initial_state(r, rng):
    shape = _shape(r)
    layer = rnn_layer(r) if r.random() < 0.7 else rnn_cells_layer(r)
    arrays = {"x": _f32(rng, *shape)}
    init = _state_arrays(rng, layer_states(layer), shape[0], arrays, [0])
    mask = None
    if r.random() < 0.3:
        arrays["mask"] = make_mask(r, shape[0], shape[1])
        mask = "mask"
    return layer_case("initial_state", layer, arrays, shape, [_call(initial_state=init, mask=mask)])


def gen_mask(r, rng):
    shape = _shape(r)
    if r.random() < 0.75:
        layer = rnn_layer(r, p_zero=0.3)
    else:
        layer = rnn_cells_layer(r, p_zero=0.5)
    arrays = {"x": _f32(rng, *shape), "mask": make_mask(r, shape[0], shape[1])}
    init = None
    if r.random() < 0.25:
        init = _state_arrays(rng, layer_states(layer), shape[0], arrays, [0])
    return layer_case("mask", layer, arrays, shape, [_call(mask="mask", initial_state=init)])


def gen_stateful(r, rng):
    shape = _shape(r)
    form = r.random()
    if form < 0.6:
        layer = rnn_layer(r)
    elif form < 0.85:
        layer = rnn_cells_layer(r)
    else:
        layer = rnn_layer(r, p_back=0)
    layer["kwargs"]["stateful"] = True
    if form >= 0.85:
        layer = spec("Bidirectional", layer=layer, merge_mode=r.choice(MERGE_MODES))
    n_calls = r.randint(2, 4)
    arrays, calls = {}, []
    for i in range(n_calls):
        key = "x" if i == 0 else f"x_{i}"
        arrays[key] = _f32(rng, *shape)
        mask = None
        if r.random() < 0.2:
            arrays[f"mask_{i}"] = make_mask(r, shape[0], shape[1])
            mask = f"mask_{i}"
        calls.append(_call(inputs=key, mask=mask, reset=i > 0 and r.random() < 0.35))
    calls.append(_call(inputs="x", reset=True))
    return layer_case("stateful", layer, arrays, shape, calls)


def rnn_cells_layer(r, *, dropout=False, p_zero=0.0):
    def cell():
        kind = r.choice(RNN_LAYERS)
        return spec(CELL_OF[kind], **cell_kwargs(r, kind, dropout=dropout))

    form = r.choice(("cell", "cell", "list", "one_cell_list", "stacked"))
    if form == "cell":
        cells = cell()
    elif form == "one_cell_list":  # RNN([cell]): a one-cell StackedRNNCells
        cells = [cell()]
    elif form == "list":
        cells = [cell() for _ in range(r.randint(1, 3))]
    else:
        cells = spec("StackedRNNCells", cells=[cell() for _ in range(r.randint(1, 3))])
    return spec("RNN", cell=cells, **seq_kwargs(r, p_zero=p_zero))


def gen_rnn_cells(r, rng):
    shape = _shape(r)
    layer = rnn_cells_layer(r, p_zero=0.2)
    arrays = {"x": _f32(rng, *shape)}
    init = mask = None
    if r.random() < 0.3:
        init = _state_arrays(rng, layer_states(layer), shape[0], arrays, [0])
    if r.random() < 0.3:
        arrays["mask"] = make_mask(r, shape[0], shape[1])
        mask = "mask"
    return layer_case("rnn_cells", layer, arrays, shape, [_call(initial_state=init, mask=mask)])


def bidirectional_layer(r, *, dropout=False):
    if r.random() < 0.8:
        inner = rnn_layer(r, dropout=dropout, p_back=0.15)
    else:
        inner = rnn_cells_layer(r, dropout=dropout)
        inner["kwargs"].pop("unroll", None)
    kw = {"layer": inner}
    if r.random() < 0.75:
        kw["merge_mode"] = r.choice(MERGE_MODES)
    if r.random() < 0.25:
        back = rnn_layer(r, dropout=dropout, p_seq=0, p_state=0, p_back=0)
        for key in ("return_sequences", "return_state"):
            if inner["kwargs"].get(key):
                back["kwargs"][key] = True
        # Keras wants the two layers' go_backwards to differ
        back["kwargs"]["go_backwards"] = not inner["kwargs"].get("go_backwards", False)
        kw["backward_layer"] = back
    return spec("Bidirectional", **kw)


def _bidir_states(layer):
    fwd = layer_states(layer["kwargs"]["layer"])
    back = layer["kwargs"].get("backward_layer")
    return _flat(fwd) + _flat(layer_states(back) if back else fwd)


def _flat(sizes):
    out = []
    for s in sizes:
        out.extend(_flat(s) if isinstance(s, list) else [s])
    return out


def gen_bidirectional(r, rng):
    shape = _shape(r)
    layer = bidirectional_layer(r)
    arrays = {"x": _f32(rng, *shape)}
    init = mask = None
    if r.random() < 0.25:
        init = _state_arrays(rng, _bidir_states(layer), shape[0], arrays, [0])
    if r.random() < 0.3:
        arrays["mask"] = make_mask(r, shape[0], shape[1])
        mask = "mask"
    return layer_case("bidirectional", layer, arrays, shape,
                      [_call(initial_state=init, mask=mask)])


def gen_dropout_inference(r, rng):
    shape = _shape(r)
    form = r.random()
    if form < 0.55:
        layer = rnn_layer(r, dropout=True)
    elif form < 0.8:
        layer = rnn_cells_layer(r, dropout=True)
    else:
        layer = bidirectional_layer(r, dropout=True)
    arrays = {"x": _f32(rng, *shape)}
    mask = None
    if r.random() < 0.25:
        arrays["mask"] = make_mask(r, shape[0], shape[1])
        mask = "mask"
    training = r.choice((False, None))
    return layer_case("dropout_inference", layer, arrays, shape,
                      [_call(mask=mask, training=training)])


def regularizer(r):
    form = r.choice(("l1", "l2", "l1_l2", "L1", "L2", "L1L2"))
    a, b = r.choice((0.001, 0.01, 0.1)), r.choice((0.0, 0.002, 0.05))
    if form in ("l1", "l2"):
        return spec(form, "regularizers", args=[a])
    if form == "L1":
        return spec("L1", "regularizers", l1=a)
    if form == "L2":
        return spec("L2", "regularizers", l2=a)
    return spec(form, "regularizers", l1=a, l2=b)


def _add_regularizers(r, kw, *, activity=True):
    names = ["kernel_regularizer", "recurrent_regularizer", "bias_regularizer"]
    if activity:
        names.append("activity_regularizer")
    for name in names:
        if r.random() < 0.55:
            kw[name] = regularizer(r)


def constraint(r):
    form = r.choice(("MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"))
    kw = {}
    if form == "MaxNorm":
        kw = {"max_value": r.choice((0.5, 1.0, 2.0)), "axis": r.choice((0, 1))}
    elif form == "UnitNorm":
        kw = {"axis": r.choice((0, 1))}
    elif form == "MinMaxNorm":
        kw = {"min_value": 0.2, "max_value": r.choice((0.5, 1.0)),
              "rate": r.choice((1.0, 0.5)), "axis": r.choice((0, 1))}
    return spec(form, "constraints", **kw)


def weighted_kwargs(layer_spec):
    """The kwargs dicts holding kernel/recurrent/bias options in a layer spec: the layer's,
    its cells', or those of a Bidirectional's layers."""
    cls, kw = layer_spec["__class__"], layer_spec["kwargs"]
    if cls == "Bidirectional":
        out = weighted_kwargs(kw["layer"])
        return out + (weighted_kwargs(kw["backward_layer"]) if "backward_layer" in kw else [])
    if cls == "RNN":
        cells = _cells_of(kw["cell"])
        return [c["kwargs"] for c in (cells if isinstance(cells, list) else [cells])]
    return [kw] if cls in RNN_LAYERS or cls.startswith("ConvLSTM") else []


def _add_constraints(r, kw):
    """Constraints only act in training (after each optimizer step); bias ones need a
    bias, and UnitNorm/MaxNorm of a 1-D bias take axis 0."""
    for name in ("kernel_constraint", "recurrent_constraint", "bias_constraint"):
        if r.random() < 0.5:
            c = constraint(r)
            if name == "bias_constraint" and "axis" in c["kwargs"]:
                c["kwargs"]["axis"] = 0
            kw[name] = c


def gen_regularizers(r, rng):
    if r.random() < 0.15:  # a ConvLSTM case (its calls, masks and states) with regularizers
        cfg, arrays = gen_convlstm(r, rng)
        _add_regularizers(r, cfg["spec"]["kwargs"])
        cfg.update(category="regularizers", regularization_losses=True)
        return cfg, arrays
    shape = _shape(r)
    form = r.random()
    if form < 0.6:
        layer = rnn_layer(r)
        _add_regularizers(r, layer["kwargs"])
    elif form < 0.8:
        layer = rnn_cells_layer(r)
        for kw in weighted_kwargs(layer):
            _add_regularizers(r, kw, activity=False)
    else:
        layer = bidirectional_layer(r)
        for kw in weighted_kwargs(layer):
            _add_regularizers(r, kw, activity=False)
    for kw in weighted_kwargs(layer):
        if r.random() < 0.2:
            _add_constraints(r, kw)  # accepted and serialized; no effect on a forward call
    return layer_case("regularizers", layer, {"x": _f32(rng, *shape)}, shape, [_call()],
                      regularization_losses=True)


def _conv_out(size, k, stride, dilation, padding):
    if padding == "same":
        return -(-size // stride)
    return (size - dilation * (k - 1) - 1) // stride + 1


def gen_convlstm(r, rng):
    rank = r.choice((1, 1, 2, 2, 3))
    batch, steps, channels = r.randint(1, 3), r.randint(1, 5), r.randint(1, 3)
    spatial = [r.randint(3, 6 if rank < 3 else 4) for _ in range(rank)]
    kernel = [r.randint(1, 3) for _ in range(rank)]
    kw = {"filters": r.randint(1, 3),
          "kernel_size": kernel[0] if r.random() < 0.5 else list(kernel)}
    if isinstance(kw["kernel_size"], int):
        kernel = [kernel[0]] * rank
    strides = dilation = 1
    if r.random() < 0.3:
        strides = r.choice((1, 2))
        kw["strides"] = strides
    elif r.random() < 0.3:
        dilation = 2
        kw["dilation_rate"] = dilation
    padding = r.choice(("valid", "same"))
    if padding == "same" or r.random() < 0.3:
        kw["padding"] = padding
    data_format = "channels_first" if r.random() < 0.25 else "channels_last"
    if data_format == "channels_first" or r.random() < 0.2:
        kw["data_format"] = data_format
    if r.random() < 0.3:
        kw["activation"] = r.choice(("tanh", "relu", "linear", "sigmoid", "hard_sigmoid"))
    if r.random() < 0.3:
        kw["recurrent_activation"] = r.choice(RECURRENT_ACTIVATIONS)
    if r.random() < 0.2:
        kw["use_bias"] = False
    if r.random() < 0.25:
        kw["unit_forget_bias"] = False
    masked = r.random() < 0.3
    kw.update(seq_kwargs(r, p_unroll=0.15, p_zero=0.4 if masked else 0.0))
    if r.random() < 0.15:
        kw["dropout"], kw["recurrent_dropout"] = 0.3, 0.2
    stateful = r.random() < 0.12
    if stateful:
        kw["stateful"] = True
    layer = spec(f"ConvLSTM{rank}D", **kw)
    if data_format == "channels_last":
        shape = [batch, steps, *spatial, channels]
    else:
        shape = [batch, steps, channels, *spatial]
    arrays = {"x": _f32(rng, *shape)}
    init = None
    out_sp = [_conv_out(s, k, strides, dilation, padding) for s, k in zip(spatial, kernel)]
    if r.random() < 0.2 and min(out_sp) > 0:
        f = kw["filters"]
        st = [batch, *out_sp, f] if data_format == "channels_last" else [batch, f, *out_sp]
        arrays["initial_state_0"], arrays["initial_state_1"] = _f32(rng, *st), _f32(rng, *st)
        init = ["initial_state_0", "initial_state_1"]
    training = False if "dropout" in kw else None
    mask = None
    if masked:
        arrays["mask"] = make_mask(r, batch, steps)
        mask = "mask"
    calls = [_call(initial_state=init, mask=mask, training=training)]
    if stateful:
        arrays["x_1"] = _f32(rng, *shape)
        calls += [_call(inputs="x_1", training=training, reset=r.random() < 0.3),
                  _call(inputs="x", training=training, reset=True)]
    return layer_case("convlstm", layer, arrays, shape, calls)


# --- models ----------------------------------------------------------------------------------

def _stack(r, n_layers, *, last_seq, allow_bidir=True, dropout=False):
    """Recurrent layers for a model: all but the last return sequences."""
    layers = []
    for i in range(n_layers):
        last = i == n_layers - 1
        seq = (not last) or last_seq
        if allow_bidir and r.random() < 0.25:
            inner = rnn_layer(r, dropout=dropout, p_seq=0, p_state=0, p_back=0.1, p_unroll=0.1)
            if seq:
                inner["kwargs"]["return_sequences"] = True
            lay = spec("Bidirectional", layer=inner)
            if r.random() < 0.6:
                lay["kwargs"]["merge_mode"] = r.choice(("concat", "sum", "mul", "ave"))
        elif r.random() < 0.15:
            lay = rnn_cells_layer(r, dropout=dropout)
            for key in ("return_state", "go_backwards"):
                lay["kwargs"].pop(key, None)
            lay["kwargs"]["return_sequences"] = seq
        else:
            lay = rnn_layer(r, dropout=dropout, p_seq=0, p_state=0, p_back=0.15, p_unroll=0.1)
            if seq:
                lay["kwargs"]["return_sequences"] = True
        layers.append(lay)
    return layers


def _head(r, seq, steps, units):
    if seq:
        choice = r.random()
        if choice < 0.45:
            return [spec("TimeDistributed", layer=spec("Dense", units=units))]
        if choice < 0.7:
            return [spec("Dense", units=units)]
        return [spec("Flatten"), spec("Dense", units=units)]
    return [spec("Dense", units=units)]


def _pre_rnn(r):
    """Sometimes a per-step layer between the input (and its mask) and the recurrence."""
    choice = r.random()
    if choice < 0.15:
        return [spec("Dense", units=r.randint(1, 4), activation=r.choice((None, "relu")))]
    if choice < 0.25:
        return [spec("TimeDistributed", layer=spec("Dense", units=r.randint(1, 4)))]
    if choice < 0.3:
        return [spec("Dropout", rate=0.2)]
    return []


def _model_cfg(r, input_shape, dtype, layers):
    return {"model_type": r.choice(("functional", "sequential")),
            "input": {"shape": list(input_shape), "dtype": dtype}, "layers": layers}


def _masked_inputs(r, rng, batch, steps, feat, value):
    x = _f32(rng, batch, steps, feat)
    mask = make_mask(r, batch, steps)
    x[~mask] = value
    return x


def gen_masking_model(r, rng):
    batch, steps, feat = r.randint(1, 4), r.randint(1, 8), r.randint(1, 4)
    value = r.choice((0.0, 0.0, -1.0, 0.5))
    last_seq = r.random() < 0.4
    layers = [spec("Masking", mask_value=value)]
    layers += _pre_rnn(r)
    layers += _stack(r, r.randint(1, 2), last_seq=last_seq)
    if r.random() < 0.7:
        layers += _head(r, last_seq, steps, r.randint(1, 3))
    model = _model_cfg(r, (steps, feat), "float32", layers)
    x = _masked_inputs(r, rng, batch, steps, feat, value)
    return {"category": "masking_model", "kind": "model", "model": model,
            "call": {"inputs": "x", "method": "predict"}}, {"x": x}


def _token_inputs(r, rng, batch, steps, vocab, mask_zero):
    x = rng.integers(1 if mask_zero else 0, vocab, size=(batch, steps)).astype(np.int32)
    if mask_zero:
        x[~make_mask(r, batch, steps)] = 0
    return x


def gen_model(r, rng):
    batch, steps = r.randint(1, 4), r.randint(1, 8)
    last_seq = r.random() < 0.4
    dropout = r.random() < 0.2
    if r.random() < 0.5:
        vocab, mask_zero = r.randint(4, 9), r.random() < 0.6
        layers = [spec("Embedding", input_dim=vocab, output_dim=r.randint(1, 4),
                       mask_zero=mask_zero)]
        x = _token_inputs(r, rng, batch, steps, vocab, mask_zero)
        inp = ((steps,), "int32")
    else:
        feat = r.randint(1, 4)
        layers = []
        x = _f32(rng, batch, steps, feat)
        inp = ((steps, feat), "float32")
    layers += _pre_rnn(r)
    layers += _stack(r, r.randint(1, 3), last_seq=last_seq, dropout=dropout)
    if r.random() < 0.2:
        layers.append(spec("Dropout", rate=0.3))
    layers += _head(r, last_seq, steps, r.randint(1, 3))
    model = _model_cfg(r, inp[0], inp[1], layers)
    return {"category": "model", "kind": "model", "model": model,
            "call": {"inputs": "x", "method": "predict"}}, {"x": x}


def optimizer(r):
    lr = r.choice((0.01, 0.05, 0.1))
    form = r.choice(("SGD", "Adam", "RMSprop", "Adagrad", "AdamW"))
    kw = {"learning_rate": lr}
    if form == "SGD":
        if r.random() < 0.6:
            kw["momentum"] = r.choice((0.5, 0.9))
            kw["nesterov"] = r.random() < 0.5
    elif form in ("Adam", "AdamW"):
        if r.random() < 0.4:
            kw["amsgrad"] = True
        if r.random() < 0.3:
            kw["beta_1"], kw["beta_2"] = 0.8, 0.99
        if form == "AdamW" and r.random() < 0.5:
            kw["weight_decay"] = r.choice((0.01, 0.1))
    elif form == "RMSprop":
        if r.random() < 0.5:
            kw["momentum"] = r.choice((0.5, 0.9))
        if r.random() < 0.5:
            kw["centered"] = True
        if r.random() < 0.3:
            kw["rho"] = 0.8
    else:
        if r.random() < 0.4:
            kw["initial_accumulator_value"] = r.choice((0.01, 0.5))
    if r.random() < 0.15:
        kw[r.choice(("clipnorm", "clipvalue", "global_clipnorm"))] = 0.1
    if form != "AdamW" and r.random() < 0.15:
        kw["weight_decay"] = r.choice((0.01, 0.1))
    return spec(form, "optimizers", **kw)


def gen_train(r, rng):
    n, steps = r.randint(3, 10), r.randint(1, 6)
    batch_size = r.choice([b for b in range(1, n + 1) if n % b] or [n])
    loss = r.choice(("mse", "sparse_categorical_crossentropy", "binary_crossentropy", "mse",
                     "sparse_categorical_crossentropy", "mae", "huber",
                     "categorical_crossentropy"))
    last_seq = r.random() < 0.3
    if r.random() < 0.3:
        vocab = r.randint(4, 8)
        layers = [spec("Embedding", input_dim=vocab, output_dim=r.randint(1, 3),
                       mask_zero=r.random() < 0.6)]
        x = _token_inputs(r, rng, n, steps, vocab, layers[0]["kwargs"]["mask_zero"])
        inp = ((steps,), "int32")
    else:
        feat = r.randint(1, 4)
        layers = []
        if r.random() < 0.3:
            layers.append(spec("Masking", mask_value=0.0))
            x = _masked_inputs(r, rng, n, steps, feat, 0.0)
        else:
            x = _f32(rng, n, steps, feat)
        inp = ((steps, feat), "float32")
    stack = _stack(r, r.randint(1, 2), last_seq=last_seq)
    for kw in weighted_kwargs(stack[0]):
        if r.random() < 0.2:
            _add_regularizers(r, kw, activity=False)
        if r.random() < 0.25:
            _add_constraints(r, kw)
    layers += stack
    out_shape = (n, steps) if last_seq else (n,)
    if loss in ("mse", "mae", "huber"):
        k = r.randint(1, 3)
        head = spec("Dense", units=k)
        target = _f32(rng, *out_shape, k)
    elif loss == "categorical_crossentropy":
        k = r.randint(2, 4)
        head = spec("Dense", units=k, activation="softmax")
        target = np.eye(k, dtype=np.float32)[rng.integers(0, k, size=out_shape)]
    elif loss == "sparse_categorical_crossentropy":
        k = r.randint(2, 4)
        head = spec("Dense", units=k, activation="softmax")
        target = rng.integers(0, k, size=out_shape).astype(np.int32)
    else:
        head = spec("Dense", units=1, activation="sigmoid")
        target = rng.integers(0, 2, size=(*out_shape, 1)).astype(np.float32)
    layers.append(spec("TimeDistributed", layer=head) if last_seq and r.random() < 0.5 else head)
    model = _model_cfg(r, inp[0], inp[1], layers)
    cfg = {"category": "train", "kind": "train", "model": model,
           "compile": {"optimizer": optimizer(r), "loss": loss},
           "fit": {"epochs": r.randint(2, 4), "batch_size": batch_size, "shuffle": False,
                   "verbose": 0},
           "n_samples": n}
    return cfg, {"x": x, "target": target}


GENERATORS = {"basic": gen_basic, "initial_state": gen_initial_state, "mask": gen_mask,
              "stateful": gen_stateful, "rnn_cells": gen_rnn_cells,
              "bidirectional": gen_bidirectional, "dropout_inference": gen_dropout_inference,
              "regularizers": gen_regularizers, "masking_model": gen_masking_model,
              "model": gen_model, "train": gen_train, "convlstm": gen_convlstm}
