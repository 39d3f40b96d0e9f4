"""ONNX export: `model.export(path, format="onnx")`.

Every recurrent layer becomes ONNX's own `LSTM` / `GRU` / `RNN` operator (a Bidirectional
layer is one node with `direction="bidirectional"`): no `Loop` or `Scan` nodes, so runtimes
run their fused kernels. Batch and time axes stay dynamic where the model's `Input` left
them `None`. A mask (`Embedding(mask_zero=True)`, `Masking`) becomes the operators'
`sequence_lens` (the count of unmasked steps per row); the unmasked steps are first moved
to the front of each row (TopK + GatherElements) and the outputs moved back, so pre- and
post-padding (and gaps) give Keras's numbers. Gate orders and bias layouts come from
`rnnkit.interop.layouts`.

Covered layers: InputLayer, Dense, Activation, Dropout, Flatten, Reshape, Embedding,
Masking, LayerNormalization, TimeDistributed (of those), Add, Subtract, Multiply, Average,
Concatenate, LSTM, GRU, SimpleRNN, Bidirectional. Anything else is a clear error.
"""

from __future__ import annotations

import os

import numpy as np

from rnnkit import layers as L
from rnnkit.interop.layouts import layout_of, reorder
from rnnkit.layers.input_layer import InputLayer
from rnnkit.layers.rnn import RNN
from rnnkit.utils.files import atomic_write_bytes

OPSET = 17

# rnnkit activation name -> (ONNX recurrent activation name, alpha, beta)
RNN_ACTIVATIONS = {"sigmoid": ("Sigmoid", None, None), "tanh": ("Tanh", None, None),
                   "relu": ("Relu", None, None),
                   "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),
                   "keras2_hard_sigmoid": ("HardSigmoid", 0.2, 0.5)}
ONNX_DTYPES = {"float32": 1, "int32": 6, "int64": 7}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'rnnkit[onnx]' "
                          "(or pip install onnx).") from None
    return onnx


def _act_name(fn):
    from rnnkit import activations

    try:
        name = activations.serialize(fn)
    except ValueError:
        name = None
    return name if isinstance(name, str) else getattr(fn, "__name__", repr(fn))


class _Builder:
    def __init__(self, model):
        self.onnx = _onnx()
        self.helper = self.onnx.helper
        self.model = model
        self.nodes, self.inits = [], []
        self.values = {}   # id(KerasTensor) -> (onnx name, mask name or None)
        self.count = 0

    # -- small helpers --------------------------------------------------------------
    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array, hint="c"):
        name = self.name(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, n_out=1, hint=None, **attrs):
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, inputs, outs, **attrs))
        return outs if n_out > 1 else outs[0]

    def activation(self, x, fn, where):
        name = _act_name(fn)
        simple = {"linear": None, "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu",
                  "softplus": "Softplus", "softsign": "Softsign", "elu": "Elu",
                  "selu": "Selu", "exponential": "Exp"}
        if name in simple:
            return x if simple[name] is None else self.op(simple[name], [x])
        if name == "softmax":
            return self.op("Softmax", [x], axis=-1)
        if name == "log_softmax":
            return self.op("LogSoftmax", [x], axis=-1)
        if name in ("hard_sigmoid", "keras2_hard_sigmoid"):
            alpha = 0.2 if name == "keras2_hard_sigmoid" else 1.0 / 6.0
            return self.op("HardSigmoid", [x], alpha=alpha, beta=0.5)
        if name in ("silu", "swish"):
            return self.op("Mul", [x, self.op("Sigmoid", [x])])
        raise ValueError(f"Cannot export {where}: the activation {name!r} has no ONNX "
                         "mapping here (supported: linear, tanh, sigmoid, relu, softmax, "
                         "log_softmax, softplus, softsign, elu, selu, exponential, "
                         "hard_sigmoid, silu).")

    # -- layers ---------------------------------------------------------------------
    def dense(self, layer, x):
        y = self.op("MatMul", [x, self.const(layer.kernel.numpy(), "kernel")])
        if layer.use_bias:
            y = self.op("Add", [y, self.const(layer.bias.numpy(), "bias")])
        return self.activation(y, layer.activation, f"layer '{layer.name}'")

    def pointwise(self, layer, x, mask):
        """Layers applied on the last axis: (output, mask passed on)."""
        if isinstance(layer, L.Dense):
            return self.dense(layer, x), mask
        if isinstance(layer, L.Activation):
            return self.activation(x, layer.activation, f"layer '{layer.name}'"), mask
        if isinstance(layer, L.Dropout):
            return self.op("Identity", [x]), mask
        if isinstance(layer, L.LayerNormalization):
            axis = layer.axis if isinstance(layer.axis, int) else list(layer.axis)
            if isinstance(axis, list) and len(axis) != 1:
                raise ValueError(f"Cannot export layer '{layer.name}': only "
                                 "LayerNormalization over the last axis is exported.")
            dim = layer.gamma.shape[-1] if layer.scale else layer.beta.shape[-1]
            gamma = layer.gamma.numpy() if layer.scale else np.ones(dim, np.float32)
            beta = layer.beta.numpy() if layer.center else np.zeros(dim, np.float32)
            return self.op("LayerNormalization", [x, self.const(gamma), self.const(beta)],
                           axis=-1, epsilon=float(layer.epsilon)), mask
        if isinstance(layer, L.TimeDistributed):
            return self.pointwise(layer.layer, x, mask)
        return None

    def embedding(self, layer, ids):
        ids32 = self.op("Cast", [ids], to=6)  # token ids given as floats work too
        y = self.op("Gather", [self.const(layer.embeddings.numpy(), "embeddings"), ids32])
        mask = None
        if layer.mask_zero:
            zero = self.const(np.zeros((), np.int32))
            mask = self.op("Not", [self.op("Equal", [ids32, zero])])
        return y, mask

    def masking(self, layer, x):
        v = self.const(np.asarray(layer.mask_value, np.float32))
        keep = self.op("Not", [self.op("Equal", [x, v])])
        mask = self.op("Cast", [self.op("ReduceMax", [self.op("Cast", [keep], to=6)],
                                        axes=[-1], keepdims=0)], to=9)
        y = self.op("Mul", [x, self.op("Cast", [self.op("Unsqueeze", [
            mask, self.const(np.asarray([-1]))])], to=1)])
        return y, mask

    def recurrent(self, layer, x, mask, initial_state):
        where = f"layer '{layer.name}'"
        if isinstance(layer, L.Bidirectional):
            dirs = [layer.forward_layer, layer.backward_layer]
            direction, merge = "bidirectional", layer.merge_mode
            outer = layer
        else:
            dirs = [layer]
            direction, merge = "forward", None
            outer = layer
            if layer.go_backwards:  # Keras: reverse the steps (and mask), then run forward
                x = self.reverse_time(x)
                mask = None if mask is None else self.reverse_time(mask)
        first = dirs[0]
        if not isinstance(first, RNN) or getattr(first, "stateful", False):
            raise ValueError(f"Cannot export {where}: stateful layers have no ONNX form.")
        cell = first.cell
        layout = layout_of(cell)
        if getattr(cell, "dropout", 0) or getattr(cell, "recurrent_dropout", 0):
            pass  # inference: dropout is off
        H = cell.units
        Ws, Rs, Bs = [], [], []
        for sub in dirs:
            c = sub.cell
            k = reorder(c.kernel.numpy(), layout.onnx_order, layout.gates).T
            r = reorder(c.recurrent_kernel.numpy(), layout.onnx_order, layout.gates).T
            if c.use_bias:
                b = np.asarray(c.bias.numpy())
                wb, rb = (b[0], b[1]) if b.ndim == 2 else (b, np.zeros_like(b))
            else:
                wb = rb = np.zeros(layout.gates * H, np.float32)
            wb = reorder(wb, layout.onnx_order, layout.gates)
            rb = reorder(rb, layout.onnx_order, layout.gates)
            Ws.append(k)
            Rs.append(r)
            Bs.append(np.concatenate([wb, rb]))
        attrs = {"hidden_size": H, "direction": direction}
        acts = [cell.recurrent_activation, cell.activation] if hasattr(
            cell, "recurrent_activation") else [cell.activation]
        if layout.onnx_op == "LSTM":
            acts = acts + [cell.activation]
        names, alphas, betas = [], [], []
        for fn in acts * len(dirs):
            n = _act_name(fn)
            if n not in RNN_ACTIVATIONS:
                raise ValueError(f"Cannot export {where}: its activation {n!r} has no ONNX "
                                 f"recurrent form ({sorted(RNN_ACTIVATIONS)}).")
            onnx_name, a, b = RNN_ACTIVATIONS[n]
            names.append(onnx_name)
            alphas.append(a)
            betas.append(b)
        attrs["activations"] = names
        if any(a is not None for a in alphas):
            attrs["activation_alpha"] = [1.0 if a is None else a for a in alphas]
            attrs["activation_beta"] = [0.0 if b is None else b for b in betas]
        if layout.onnx_op == "GRU":
            attrs["linear_before_reset"] = 1 if getattr(cell, "reset_after", True) else 0
        seq_sequences = first.return_sequences
        if mask is not None and seq_sequences and not first.zero_output_for_mask:
            raise ValueError(
                f"Cannot export {where}: with a mask and return_sequences=True, Keras repeats "
                "the last output at padded steps, while ONNX's operator outputs zeros there. "
                "Use zero_output_for_mask=True, or return_sequences=False.")
        seq_lens, order = "", None
        if mask is not None:
            x, order = self.compact(x, mask)
            seq_lens = self.op("ReduceSum", [self.op("Cast", [mask], to=6),
                                             self.const(np.asarray([1]))], keepdims=0)
        xt = self.op("Transpose", [x], perm=[1, 0, 2])  # (T, B, D)
        inputs = [xt, self.const(np.stack(Ws).astype(np.float32), "W"),
                  self.const(np.stack(Rs).astype(np.float32), "R"),
                  self.const(np.stack(Bs).astype(np.float32), "B"), seq_lens]
        n_out = 3 if layout.onnx_op == "LSTM" else 2
        if initial_state is not None:
            inputs += self.initial_states(initial_state, len(dirs), n_out - 1, H, where)
        outs = self.op(layout.onnx_op, inputs, n_out=n_out, hint=layer.name, **attrs)
        y, y_h = outs[0], outs[1]
        y_c = outs[2] if n_out == 3 else None
        nd = len(dirs)
        if seq_sequences:  # Y (T, nd, B, H) -> per direction (B, T, H)
            yb = self.op("Transpose", [y], perm=[2, 0, 1, 3])  # (B, T, nd, H)
            per_dir = ([yb] if nd == 1 else
                       self.op("Split", [yb], n_out=2, axis=2))
            seqs = [self.op("Squeeze", [p, self.const(np.asarray([2]))]) for p in per_dir]
        else:
            per_dir = [y_h] if nd == 1 else self.op("Split", [y_h], n_out=2, axis=0)
            seqs = [self.op("Squeeze", [p, self.const(np.asarray([0]))]) for p in per_dir]
        out = seqs[0] if nd == 1 else self._merge(merge, seqs, where)
        if seq_sequences and order is not None:  # each step back to its own time
            idx = self.op("Expand", [self.op("Unsqueeze", [order, self.const(
                np.asarray([-1]))]), self.op("Shape", [out])])
            zeros = self.op("Mul", [out, self.const(np.float32(0.0))])
            out = self.op("ScatterElements", [zeros, idx, out], axis=1)
        result = [out]
        if first.return_state:
            states = [y_h] + ([y_c] if y_c is not None else [])
            for d in range(nd):
                for s in states:
                    part = s if nd == 1 else self.op("Split", [s], n_out=2, axis=0)[d]
                    result.append(self.op("Squeeze", [part, self.const(np.asarray([0]))]))
        out_mask = mask if seq_sequences else None
        return result, out_mask

    def reverse_time(self, x):
        """`x` (B, T, ...) with its time axis reversed (dynamic T)."""
        return self.op("Slice", [x, self.const(np.asarray([-1])),
                                 self.const(np.asarray([np.iinfo(np.int64).min])),
                                 self.const(np.asarray([1])), self.const(np.asarray([-1]))])

    def initial_states(self, initial_state, n_dirs, n_states, units, where):
        """The operator's `initial_h` (and `initial_c`), each (n_dirs, B, H), from a
        layer's `initial_state` list: Keras order, each direction's states in turn
        (forward h[, c], then backward h[, c])."""
        from rnnkit import symbolic

        given = list(symbolic.tree_leaves(initial_state))
        if len(given) != n_dirs * n_states or not all(symbolic.is_symbolic(t) for t in given):
            raise ValueError(
                f"Cannot export {where}: expected initial_state to be {n_dirs * n_states} "
                f"model tensor(s) of shape (batch, {units}), received {len(given)} "
                f"item(s). Pass the states as outputs of other layers or model inputs.")
        vals = [self.values[id(t)][0] for t in given]
        out = []
        for k in range(n_states):
            per_dir = [self.op("Unsqueeze", [vals[d * n_states + k], self.const(
                np.asarray([0]))]) for d in range(n_dirs)]
            out.append(per_dir[0] if n_dirs == 1 else self.op("Concat", per_dir, axis=0))
        return out

    def compact(self, x, mask):
        """`x` (B, T, D) with each row's unmasked steps moved to the front in time order,
        and that order (B, T): the operators then see `sequence_lens` valid steps, which
        is exactly Keras's masking for any mask, pre- or post-padded."""
        shape = self.op("Shape", [x])
        t = self.op("Gather", [shape, self.const(np.asarray(1, np.int64))])
        tf = self.op("Cast", [t], to=1)
        steps = self.op("Cast", [self.op("Range", [self.const(np.asarray(0, np.int64)), t,
                                                   self.const(np.asarray(1, np.int64))])],
                        to=1)
        maskf = self.op("Cast", [mask], to=1)
        # unmasked steps score above every masked one; earlier steps score higher
        score = self.op("Add", [self.op("Sub", [tf, steps]), self.op("Mul", [maskf, tf])])
        k = self.op("Reshape", [t, self.const(np.asarray([1], np.int64))])
        _, order = self.op("TopK", [score, k], n_out=2, axis=1, largest=1, sorted=1)
        idx = self.op("Expand", [self.op("Unsqueeze", [order, self.const(np.asarray([-1]))]),
                                 shape])
        return self.op("GatherElements", [x, idx], axis=1), order

    def _merge(self, mode, parts, where):
        if mode == "concat":
            return self.op("Concat", parts, axis=-1)
        if mode == "sum":
            return self.op("Add", parts)
        if mode == "mul":
            return self.op("Mul", parts)
        if mode == "ave":
            return self.op("Mul", [self.op("Add", parts), self.const(np.float32(0.5))])
        raise ValueError(f"Cannot export {where}: merge_mode={mode!r} is not exported.")

    def merge(self, layer, xs):
        if isinstance(layer, L.Concatenate):
            return self.op("Concat", xs, axis=int(layer.axis))
        ops = {L.Add: "Sum", L.Multiply: "Mul", L.Subtract: "Sub", L.Average: "Mean"}
        for cls, op in ops.items():
            if isinstance(layer, cls):
                if op == "Mul" and len(xs) > 2:
                    out = xs[0]
                    for v in xs[1:]:
                        out = self.op("Mul", [out, v])
                    return out
                return self.op(op, xs)
        return None

    # -- the graph ------------------------------------------------------------------
    def node(self, node):
        from rnnkit import symbolic

        layer = node.layer
        where = f"layer '{layer.name}' ({type(layer).__name__})"
        inputs = [t for t in symbolic.tree_leaves(node.args[0]) if symbolic.is_symbolic(t)]
        xs = [self.values[id(t)][0] for t in inputs]
        masks = [self.values[id(t)][1] for t in inputs]
        if "mask" in node.kwargs and node.kwargs["mask"] is not None:
            raise ValueError(f"Cannot export {where}: an explicit mask= argument is not "
                             "exported; masks from Embedding(mask_zero=True) or Masking are.")
        outs, out_mask = None, None
        if isinstance(layer, (RNN, L.Bidirectional)):
            init = node.kwargs.get("initial_state")
            outs, out_mask = self.recurrent(layer, xs[0], masks[0], init)
        elif isinstance(layer, L.Embedding):
            y, out_mask = self.embedding(layer, xs[0])
            outs = [y]
        elif isinstance(layer, L.Masking):
            y, out_mask = self.masking(layer, xs[0])
            outs = [y]
        elif isinstance(layer, L.Flatten):
            outs = [self.op("Flatten", [xs[0]], axis=1)]
        elif isinstance(layer, L.Reshape):
            shape = np.asarray([0] + [int(d) for d in layer.target_shape], np.int64)
            outs = [self.op("Reshape", [xs[0], self.const(shape)])]
        else:
            res = self.pointwise(layer, xs[0], masks[0]) if len(xs) == 1 else None
            if res is not None:
                outs, out_mask = [res[0]], res[1]
            else:
                merged = self.merge(layer, xs) if len(xs) > 1 else None
                if merged is None:
                    raise ValueError(f"Cannot export {where} to ONNX: this layer type has no "
                                     "ONNX mapping in rnnkit (see rnnkit.interop.onnx_export "
                                     "for the layers covered).")
                outs = [merged]
                out_mask = masks[0] if all(m is masks[0] for m in masks) else None
        produced = [t for t in symbolic.tree_leaves(node.outputs) if symbolic.is_symbolic(t)]
        for i, t in enumerate(produced):
            self.values[id(t)] = (outs[i], out_mask if i == 0 else None)

    def build(self, opset):
        from rnnkit import symbolic

        helper = self.helper
        graph = getattr(self.model, "_graph", None)
        if graph is None:
            raise ValueError(
                f"Cannot export model '{self.model.name}': it has no graph (a subclassed "
                "model, or a Sequential whose input shape is unknown). Build it from "
                "rnnkit.Input(shape=...) first.")
        inputs = []
        for i, t in enumerate(graph.input_list):
            name = t.node.layer.name
            dims = ["batch" if i0 == 0 and d is None else (f"{name}_dim{i0}" if d is None
                                                            else int(d))
                    for i0, d in enumerate(t.shape)]
            if len(dims) > 1 and t.shape[1] is None:
                dims[1] = "time"
            dtype = ONNX_DTYPES.get(np.dtype(t.dtype).name)
            if dtype is None:
                raise ValueError(f"Cannot export input '{name}' of dtype {t.dtype}.")
            inputs.append(helper.make_tensor_value_info(name, dtype, dims))
            self.values[id(t)] = (name, None)
        for node in graph.nodes:
            if isinstance(node.layer, InputLayer):
                continue
            self.node(node)
        outputs = []
        for i, t in enumerate(graph.output_list):
            src = self.values[id(t)][0]
            name = f"output_{i}"
            self.nodes.append(helper.make_node("Identity", [src], [name]))
            dtype = ONNX_DTYPES.get(np.dtype(t.dtype).name, 1)
            dims = [("batch" if j == 0 and d is None else None if d is None else int(d))
                    for j, d in enumerate(t.shape)]
            outputs.append(helper.make_tensor_value_info(name, dtype, dims))
        g = helper.make_graph(self.nodes, self.model.name, inputs, outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="rnnkit")
        m.ir_version = min(m.ir_version, 9)
        self.onnx.checker.check_model(m)
        del symbolic
        return m


def to_onnx(model, opset=OPSET):
    """The `onnx.ModelProto` of `model` (a functional or Sequential rnnkit model)."""
    return _Builder(model).build(opset)


def export_onnx(model, filepath, opset=OPSET, verbose=False):
    """Writes `model` as an ONNX file (atomically); returns the path."""
    proto = to_onnx(model, opset)
    filepath = os.fspath(filepath)
    atomic_write_bytes(filepath, proto.SerializeToString())
    if verbose:
        print(f"Saved ONNX model to {filepath} ({len(proto.graph.node)} nodes, "
              f"opset {opset}).")
    return filepath
