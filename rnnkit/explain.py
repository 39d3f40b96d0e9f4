"""`rnnkit.explain`: what a recurrent layer (or model) computes, weight by weight.

    import rnnkit.explain
    print(rnnkit.explain("LSTM(64, return_sequences=True)", (1, 3, 5)))
    e = rnnkit.explain(rnnkit.layers.GRU(32), input_shape=(1, 3, 5))
    e.to_dict()          # JSON-ready: weights, parameter counts, formulas, shapes

For each cell: its equations in the code's gate order, every weight (name, shape, count),
the parameter formula (e.g. `4*u*(d+u)+4*u` for an LSTM) next to its value for this input,
and the parameter count of the layer actually built (`layer.build(shape)`,
`count_params()`); then the shapes of the outputs and states of this call and what each
argument that was set changes. The command line twin is `rnnkit explain SPEC --input ...`.

Layer specs are parsed with `ast`, never evaluated: only rnnkit layer/cell class names
(optionally prefixed `tf.keras.layers.`/`keras.layers.`/`layers.`), regularizer,
initializer and constraint classes, literals, lists/tuples and nested calls are accepted.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import json
import sys
import types
from pathlib import Path

__all__ = ["explain", "parse_spec", "Explanation", "SpecError", "layer_names"]

_MAX_SPEC_CHARS = 4000
_MAX_DEPTH = 24
_PREFIXES = {"tf", "tensorflow", "keras", "layers", "rnnkit", "regularizers",
             "initializers", "constraints"}
_NOT_LAYERS = {"Layer", "InputLayer", "AbstractRNNCell"}
_DEFAULT_SEQ_SHAPE = (1, 3, 5)  # the tutorials' input_data


class SpecError(ValueError):
    """A layer spec that cannot be parsed or built; `str(err)` is one line."""


# ------------------------------------------------------------------------------------------
# names that a spec may use
# ------------------------------------------------------------------------------------------
def _layer_classes() -> dict:
    import rnnkit.layers as L
    from rnnkit.layers.layer import Layer

    out = {}
    for name in dir(L):
        obj = getattr(L, name)
        if isinstance(obj, type) and issubclass(obj, Layer) and name not in _NOT_LAYERS \
                and not name.startswith("_"):
            out[name] = obj
    return out


def layer_names() -> list:
    """The layer and cell class names a spec may use."""
    return sorted(_layer_classes())


def _helper_callables() -> dict:
    from rnnkit import constraints, initializers, regularizers

    out = {}
    for module, base in ((regularizers, regularizers.Regularizer),
                         (initializers, initializers.Initializer),
                         (constraints, constraints.Constraint)):
        for name, obj in vars(module).items():
            if name.startswith("_"):
                continue
            if isinstance(obj, type) and issubclass(obj, base) and obj is not base:
                out[name] = obj
    for name in ("l1", "l2", "l1_l2", "orthogonal_regularizer"):
        if callable(getattr(regularizers, name, None)):
            out[name] = getattr(regularizers, name)
    return out


# ------------------------------------------------------------------------------------------
# safe spec parsing
# ------------------------------------------------------------------------------------------
def _one_line(text) -> str:
    return " ".join(str(text).split())


def _call_name(func) -> str:
    parts = []
    node = func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise SpecError("only calls of layer names are allowed, e.g. LSTM(64)")
    parts.append(node.id)
    parts.reverse()
    for prefix in parts[:-1]:
        if prefix not in _PREFIXES:
            raise SpecError(f"unknown prefix {'.'.join(parts[:-1])!r} in "
                            f"{'.'.join(parts)!r}; write the class name alone, e.g. "
                            f"{parts[-1]}(...)")
    return parts[-1]


def _unknown_name(name, layers, helpers) -> SpecError:
    names = sorted(layers)
    close = difflib.get_close_matches(name, names + sorted(helpers), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return SpecError(f"unknown layer {name!r}{hint}; valid names: {', '.join(names)}")


class _Parser:
    def __init__(self):
        self.layers = _layer_classes()
        self.helpers = _helper_callables()

    def value(self, node, depth):
        if depth > _MAX_DEPTH:
            raise SpecError("the spec is nested too deeply")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, int, float, bool)) or node.value is None:
                return node.value
            raise SpecError(f"unsupported literal {node.value!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
                and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, (int, float)) \
                and not isinstance(node.operand.value, bool):
            v = node.operand.value
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.List):
            return [self.value(e, depth + 1) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.value(e, depth + 1) for e in node.elts)
        if isinstance(node, ast.Call):
            return self.call(node, depth + 1)[0]
        if isinstance(node, ast.Name):
            if node.id in self.layers or node.id in self.helpers:
                raise SpecError(f"{node.id} must be called, e.g. {node.id}(...)")
            raise SpecError(f"unknown name {node.id!r}: use literals (numbers, 'strings', "
                            "True/False/None), lists, and calls of rnnkit classes")
        raise SpecError(f"unsupported syntax {type(node).__name__} in the spec: use "
                        "literals, lists, and calls of rnnkit classes")

    def call(self, node, depth):
        name = _call_name(node.func)
        cls = self.layers.get(name) or self.helpers.get(name)
        if cls is None:
            raise _unknown_name(name, self.layers, self.helpers)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            raise SpecError("*args and **kwargs are not allowed in a spec")
        args = [self.value(a, depth) for a in node.args]
        kwargs = {k.arg: self.value(k.value, depth) for k in node.keywords}
        try:
            obj = cls(*args, **kwargs)
        except Exception as err:  # the class's own, explained error
            raise SpecError(f"{name}(...) failed: {_one_line(err)}") from None
        if name in self.layers:
            obj.__dict__["_explain_args"] = _bound_args(cls, args, kwargs)
            obj.__dict__["_explain_source"] = ast.unparse(node)
        return obj, name


def _bound_args(cls, args, kwargs) -> dict:
    """The arguments written in the spec, by parameter name, in the order written."""
    out = {}
    try:
        params = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name != "self" and p.kind in (p.POSITIONAL_ONLY,
                                                     p.POSITIONAL_OR_KEYWORD)]
        for p, a in zip(params, args):
            out[p.name] = a
    except (TypeError, ValueError):
        for i, a in enumerate(args):
            out[f"arg{i}"] = a
    out.update(kwargs)
    return out


def parse_spec(spec: str):
    """Builds the layer described by `spec` (e.g. "Bidirectional(GRU(32))") without eval."""
    if not isinstance(spec, str):
        raise SpecError(f"a spec is a string such as 'LSTM(64)'; received {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise SpecError("empty layer spec; write e.g. 'LSTM(64)'")
    if len(text) > _MAX_SPEC_CHARS:
        raise SpecError(f"the spec is longer than {_MAX_SPEC_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise SpecError(f"cannot parse {text!r}: {err.msg} (write e.g. 'LSTM(64, "
                        "return_sequences=True)')") from None
    parser = _Parser()
    body = tree.body
    if isinstance(body, ast.Name):
        if body.id in parser.layers:
            raise SpecError(f"{body.id} needs its arguments, e.g. {body.id}(64)")
        raise _unknown_name(body.id, parser.layers, parser.helpers)
    if not isinstance(body, ast.Call):
        raise SpecError("the spec must be one layer call, e.g. 'LSTM(64)' or "
                        "'RNN([LSTMCell(64), LSTMCell(64)])'")
    name = _call_name(body.func)
    if name not in parser.layers:
        if name in parser.helpers:
            raise SpecError(f"{name} is not a layer; explain a layer such as "
                            f"SimpleRNN(64, kernel_regularizer={name}(...))")
        raise _unknown_name(name, parser.layers, parser.helpers)
    layer, _ = parser.call(body, 1)
    return layer


# ------------------------------------------------------------------------------------------
# formulas
# ------------------------------------------------------------------------------------------
def eval_formula(formula: str, variables: dict) -> int:
    """Evaluates an integer formula such as "4*u*(d+u)+4*u" (only + - * // and names)."""

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return int(variables[node.id])
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.FloorDiv):
                return a // b
        raise ValueError(f"unsupported formula element {ast.dump(node)}")

    return ev(ast.parse(formula, mode="eval"))


def substitute(formula: str, variables: dict) -> str:
    """"4*u*(d+u)+4*u" with u=64, d=5 -> "4*64*(5+64)+4*64"."""
    out = []
    for tok in _tokens(formula):
        out.append(str(variables[tok]) if tok in variables else tok)
    return "".join(out)


def _tokens(formula):
    tok = ""
    for ch in formula:
        if ch.isalnum() or ch == "_":
            tok += ch
        else:
            if tok:
                yield tok
                tok = ""
            yield ch
    if tok:
        yield tok


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _shape_product_formula(weights) -> str:
    if not weights:
        return "0"
    return "+".join("*".join(str(int(d)) for d in w.shape) or "1" for w in weights)


# ------------------------------------------------------------------------------------------
# cells
# ------------------------------------------------------------------------------------------
def _act_name(fn) -> str:
    from rnnkit import activations

    try:
        name = activations.serialize(fn)
    except ValueError:
        name = None
    if isinstance(name, str):
        return name
    return getattr(fn, "__name__", "activation")


_KNOWN_CELLS = ("SimpleRNNCell", "LSTMCell", "GRUCell")


def _cell_kind(cell):
    for klass in type(cell).__mro__:
        if klass.__name__ in _KNOWN_CELLS and klass.__module__.startswith("rnnkit."):
            return klass.__name__
    return None


def _cell_formula(cell, d, u):
    """(formula, per-weight formulas) for a built-in cell; d, u are the variable names."""
    kind = _cell_kind(cell)
    g = {"SimpleRNNCell": 1, "LSTMCell": 4, "GRUCell": 3}[kind]
    gu = u if g == 1 else f"{g}*{u}"
    main = f"{u}*({d}+{u})" if g == 1 else f"{g}*{u}*({d}+{u})"
    per = {"kernel": (f"({d}, {gu})", f"{d}*{gu}"),
           "recurrent_kernel": (f"({u}, {gu})", f"{u}*{gu}")}
    if cell.use_bias:
        if kind == "GRUCell" and cell.reset_after:
            bias = f"6*{u}"
            per["bias"] = (f"(2, 3*{u})", f"2*3*{u}")
        else:
            bias = gu
            per["bias"] = (f"({gu},)", gu)
        return f"{main}+{bias}", per
    return main, per


def _align(pairs):
    """[(expression, comment)] -> lines with the comments aligned."""
    width = max(len(e) for e, c in pairs if c) if any(c for _, c in pairs) else 0
    return [f"{e.ljust(width)}   # {c}" if c else e for e, c in pairs]


def _cell_equations(cell, units):
    kind = _cell_kind(cell)
    u = units
    act = _act_name(cell.activation)
    bias = " + bias" if cell.use_bias else ""
    if kind == "SimpleRNNCell":
        return "(one block)", _align([
            (f"h_t = {act}(x_t @ kernel{bias} + h_(t-1) @ recurrent_kernel)", f"(batch, {u})"),
            ("output_t = h_t;  state = [h_t]", ""),
        ])
    ract = _act_name(cell.recurrent_activation)
    if kind == "LSTMCell":
        return "i, f, c, o", _align([
            (f"z = x_t @ kernel + h_(t-1) @ recurrent_kernel{bias}", f"(batch, {4 * u})"),
            (f"i = {ract}(z[:, 0:{u}])", "input gate"),
            (f"f = {ract}(z[:, {u}:{2 * u}])", "forget gate"),
            (f"g = {act}(z[:, {2 * u}:{3 * u}])", "candidate cell values (the 'c' block)"),
            (f"o = {ract}(z[:, {3 * u}:{4 * u}])", "output gate"),
            ("c_t = f * c_(t-1) + i * g", "new cell state"),
            (f"h_t = o * {act}(c_t)", "new hidden state"),
            ("output_t = h_t;  states = [h_t, c_t]", ""),
        ])
    if cell.reset_after:
        b_in = " + bias[0]" if cell.use_bias else ""
        b_rec = " + bias[1]" if cell.use_bias else ""
        return "z, r, h", _align([
            (f"x_z, x_r, x_h = split(x_t @ kernel{b_in}, 3)", f"each (batch, {u})"),
            (f"h_z, h_r, h_h = split(h_(t-1) @ recurrent_kernel{b_rec}, 3)", ""),
            (f"z = {ract}(x_z + h_z)", f"update gate (columns 0:{u})"),
            (f"r = {ract}(x_r + h_r)", f"reset gate (columns {u}:{2 * u})"),
            (f"h~ = {act}(x_h + r * h_h)",
             f"candidate (columns {2 * u}:{3 * u}); reset applied after the matmul"),
            ("h_t = z * h_(t-1) + (1 - z) * h~", "new state"),
            ("output_t = h_t;  state = [h_t]", ""),
        ])
    return "z, r, h", _align([
        (f"x_z, x_r, x_h = split(x_t @ kernel{bias}, 3)", f"each (batch, {u})"),
        (f"z = {ract}(x_z + h_(t-1) @ recurrent_kernel[:, 0:{u}])", "update gate"),
        (f"r = {ract}(x_r + h_(t-1) @ recurrent_kernel[:, {u}:{2 * u}])", "reset gate"),
        (f"h~ = {act}(x_h + (r * h_(t-1)) @ recurrent_kernel[:, {2 * u}:{3 * u}])",
         "candidate; reset applied before the matmul"),
        ("h_t = z * h_(t-1) + (1 - z) * h~", "new state"),
        ("output_t = h_t;  state = [h_t]", ""),
    ])


def _state_names(cell) -> list:
    from rnnkit.layers.stacked import flat_sizes

    kind = _cell_kind(cell)
    if kind == "LSTMCell":
        return ["h", "c"]
    n = len(flat_sizes(cell.state_size))
    return ["h"] if n == 1 else [f"state_{i}" for i in range(n)]


def _weight_rows(weights, owner_name, per=None, variables=None):
    rows = []
    for w in weights:
        path = w.path if w.path.startswith(owner_name + "/") else f"{owner_name}/{w.path}"
        row = {"name": w.name, "path": path, "shape": list(w.shape),
               "params": _prod(w.shape), "trainable": bool(w.trainable)}
        if per and w.name in per:
            shape_f, count_f = per[w.name]
            row["shape_formula"] = shape_f
            row["formula"] = count_f
            if variables is not None:
                row["formula_value"] = eval_formula(count_f, variables)
        rows.append(row)
    return rows


def _explain_cell(cell, input_dim, owner_name, suffix=""):
    from rnnkit.layers.stacked import flat_sizes

    kind = _cell_kind(cell)
    sizes = flat_sizes(cell.state_size)
    out_size = getattr(cell, "output_size", sizes[0])
    info = {"class_name": type(cell).__name__, "name": cell.name, "input_dim": input_dim,
            "units": getattr(cell, "units", sizes[0]), "output_size": out_size,
            "state_sizes": sizes, "state_names": _state_names(cell)}
    weights = list(cell.weights)
    own = getattr(cell, "explain_spec", None)  # a cell that describes itself
    if kind is None and callable(own):
        spec = own(input_dim, suffix)
        variables = spec["variables"]
        formula = spec["formula"]
        info.update(gate_order=None, equations=spec["equations"], variables=variables,
                    state_names=spec["state_names"])
        info["weights"] = _weight_rows(weights, owner_name, spec["weights"], variables)
    elif kind is not None:
        d, u = f"d{suffix}", f"u{suffix}"
        variables = {d: int(input_dim), u: int(cell.units)}
        formula, per = _cell_formula(cell, d, u)
        order, eqs = _cell_equations(cell, cell.units)
        info.update(gate_order=order, equations=eqs, variables=variables)
        info["weights"] = _weight_rows(weights, owner_name, per, variables)
        if cell.dropout or cell.recurrent_dropout:
            extra = []
            if cell.dropout:
                extra.append(f"x_t is multiplied by a dropout mask (rate {cell.dropout})")
            if cell.recurrent_dropout:
                extra.append(f"h_(t-1) is multiplied by a dropout mask (rate "
                             f"{cell.recurrent_dropout})")
            info["equations"] = eqs + [
                "training only: " + " and ".join(extra) + ", drawn once per sequence"]
    else:
        formula = _shape_product_formula(weights)
        variables = {}
        info.update(gate_order=None, equations=[
            f"custom cell: output_t, states_t = {type(cell).__name__}.call(x_t, "
            "states_(t-1)) (see its code)"], variables=variables)
        info["weights"] = _weight_rows(weights, owner_name)
    info["formula"] = formula
    info["formula_substituted"] = substitute(formula, variables)
    info["formula_value"] = eval_formula(formula, variables)
    info["params"] = sum(_prod(w.shape) for w in weights)
    return info


# ------------------------------------------------------------------------------------------
# argument effects
# ------------------------------------------------------------------------------------------
def _fmt(value) -> str:
    from rnnkit.layers.layer import Layer

    if isinstance(value, Layer):
        src = value.__dict__.get("_explain_source")
        return src or f"{type(value).__name__}(...)"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_fmt(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if hasattr(value, "get_config") and not isinstance(value, type):
        try:
            cfg = value.get_config()
            args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if v not in (None, 0, 0.0))
            return f"{type(value).__name__}({args})"
        except Exception:
            pass
    return repr(value)


def _shape_str(shape) -> str:
    parts = [("batch" if i == 0 else "None") if d is None else str(d)
             for i, d in enumerate(shape)]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _effect(layer, arg, value, ctx) -> str:
    cls = type(layer).__name__
    cell = ctx.get("cell")
    kind = _cell_kind(cell) if cell is not None else None
    last = ctx.get("last_shape")
    seq = ctx.get("seq_shape")
    T = ctx.get("timesteps")
    states = ctx.get("state_desc", "the final state(s)")
    if arg == "units":
        if cls == "Dense":
            return f"the output has {value} features"
        extra = " (h and the cell state c)" if kind == "LSTMCell" else ""
        return (f"size of the state{extra} and of each output: {value} features; the "
                "weights grow with it (see the formula)")
    if arg == "activation":
        if cls == "Dense":
            return f"applied to x @ kernel + bias: {value}(...)"
        where = {"LSTMCell": "the candidate g and the output tanh(c_t)",
                 "GRUCell": "the candidate h~", "SimpleRNNCell": "the new state h_t"}
        return f"{value!s} is used for {where.get(kind, 'the state update')} (see equations)"
    if arg == "recurrent_activation":
        gates = "i, f and o" if kind == "LSTMCell" else "z and r"
        return f"{value!s} is used for the gates {gates} (see equations)"
    if arg == "use_bias":
        if value:
            return "adds the bias vector(s) listed below (the default)"
        return "no bias: the bias term is dropped from the equations and the parameters"
    if arg == "return_sequences":
        if value:
            return (f"the output holds every time step, {_shape_str(seq)}, instead of only "
                    f"the last one {_shape_str(last)}")
        return (f"the output is the last time step only, {_shape_str(last)}; set True for all "
                f"{T} steps {_shape_str(seq)} (needed to stack another recurrent layer)")
    if arg == "return_state":
        if value:
            return (f"the call returns a list [output, {states}]: unpack it as "
                    f"`output, {states} = layer(x)`")
        return "the call returns only the output (states are not returned)"
    if arg == "go_backwards":
        return ("reads the sequence from the last step to the first (outputs in processing "
                "order)" if value else "reads the sequence from first to last (the default)")
    if arg == "stateful":
        return ("the final states of each call are the initial states of the next (fixed "
                "batch size); call reset_states() between independent sequences" if value
                else "every call starts from zero states (the default)")
    if arg == "unroll":
        return ("the time loop is unrolled in the compiled code (faster for short sequences, "
                "slower to compile)" if value else "the time loop is a lax.scan (the default)")
    if arg == "time_major":
        return ("inputs and outputs are (timesteps, batch, features)" if value
                else "inputs and outputs are (batch, timesteps, features)")
    if arg == "dropout":
        if cls == "Dropout" or arg == "rate":
            return f"during training, {value} of the inputs are zeroed"
        return (f"during training, input features x_t are dropped with rate {value} (one "
                "mask per sequence); no effect at inference")
    if arg == "rate":
        return (f"during training each input is zeroed with probability {value} and the rest "
                f"scaled by 1/(1-{value}); at inference the layer passes x through")
    if arg == "recurrent_dropout":
        return (f"during training, the state h_(t-1) is dropped with rate {value} in the "
                "recurrent matmul (one mask per sequence)")
    if arg.endswith("_regularizer"):
        target = arg[: -len("_regularizer")]
        what = "the layer's output" if target == "activity" else f"`{target}`"
        if target == "embeddings":
            what = "`embeddings`"
        if value is None:
            return f"no penalty on {what}"
        return (f"adds {_fmt(value)} of {what} to the training loss (model.losses); outputs "
                "are unchanged")
    if arg.endswith("_initializer"):
        target = arg[: -len("_initializer")]
        return f"how `{target}` is initialized ({_fmt(value)}); outputs before training change"
    if arg.endswith("_constraint"):
        target = arg[: -len("_constraint")]
        return f"after each optimizer step, `{target}` is projected with {_fmt(value)}"
    if arg == "unit_forget_bias":
        return ("the forget-gate bias starts at 1 (bias[u:2u] = 1), so the cell initially "
                "keeps its memory" if value else "the forget-gate bias starts at 0")
    if arg == "reset_after":
        return ("reset gate applied after the recurrent matmul; bias has shape (2, 3*u) "
                "(Keras 3 / cuDNN default)" if value else
                "reset gate applied before the recurrent matmul; bias has shape (3*u,)")
    if arg == "merge_mode":
        u = ctx.get("inner_units")
        if value == "concat":
            return f"forward and backward outputs are concatenated: {2 * u} features"
        if value is None:
            return "the call returns [forward_output, backward_output] separately"
        return f"forward and backward outputs are combined elementwise ({value}): {u} features"
    if arg == "input_dim" and cls == "Embedding":
        return f"vocabulary size: ids are in [0, {value - 1}]"
    if arg in ("input_shape", "batch_input_shape", "input_dim", "batch_size"):
        return ("declares the input shape, used when this layer starts a Sequential model "
                "(Keras 3 prefers Input(shape=...))")
    if arg == "name":
        return f"the layer's name; weights are named '{value}/...'"
    if arg == "seed":
        return "seed of the dropout masks"
    if arg == "dtype":
        return f"weights and outputs use {value}"
    if arg == "zero_output_for_mask":
        return "masked steps output zeros instead of repeating the previous output"
    if arg == "cell":
        return "the cell run at every time step (equations above)"
    if arg == "cells":
        return "the cells run one after another at every time step (a deep RNN)"
    if arg == "layer":
        return ("the recurrent layer run forwards; a copy runs backwards (equations above)"
                if cls == "Bidirectional" else "the layer applied to every time step")
    if arg == "backward_layer":
        return "a separate layer for the backward direction"
    if arg == "output_dim":
        return f"each id becomes a vector of {value} features"
    if arg == "mask_zero":
        return ("id 0 is padding: it produces a mask so recurrent layers skip those steps"
                if value else "no mask")
    if arg == "use_cudnn":
        return "accepted for Keras compatibility; rnnkit compiles the same XLA code either way"
    if arg == "trainable":
        return "frozen: weights are not updated by fit()" if not value else "trainable"
    return f"sets {arg}={_fmt(value)}"


def _default_config(layer):
    cls = type(layer)
    try:
        if hasattr(layer, "units") and cls.__name__ not in ("RNN", "Bidirectional"):
            return cls(layer.units).get_config()
        if cls.__name__ == "Embedding":
            return cls(layer.input_dim, layer.output_dim).get_config()
        if cls.__name__ == "Dropout":
            return cls(layer.rate).get_config()
    except Exception:
        return None
    return None


def _set_arguments(layer) -> dict:
    """Arguments that were set: as written in a spec, else those differing from defaults."""
    written = layer.__dict__.get("_explain_args")
    if written is not None:
        return dict(written)
    config = layer.get_config()
    default = _default_config(layer)
    skip = {"name", "trainable", "dtype", "quantization_config"}
    out = {}
    if default is not None:
        for key in ("units", "input_dim", "output_dim", "rate"):
            if key in config:
                out[key] = config[key]
        for k, v in config.items():
            if k not in skip and k in default and default[k] != v:
                out[k] = v
        return out
    for k in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
              "time_major"):
        if config.get(k):
            out[k] = config[k]
    if type(layer).__name__ == "Bidirectional":
        out["layer"] = layer.forward_layer
        if layer.merge_mode != "concat":
            out["merge_mode"] = layer.merge_mode
    elif type(layer).__name__ == "RNN":
        out["cell"] = layer.cell
    return out


# ------------------------------------------------------------------------------------------
# the explanation
# ------------------------------------------------------------------------------------------
class Explanation:
    """The result of `explain(...)`: `.to_dict()`, `.to_json()`, `.to_text()`, or print it."""

    def __init__(self, data: dict):
        self.data = data

    def to_dict(self) -> dict:
        return self.data

    def to_json(self, indent=2) -> str:
        return json.dumps(self.data, indent=indent, ensure_ascii=False)

    def to_text(self) -> str:
        return "\n".join(_text_lines(self.data))

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        d = self.data
        return (f"<Explanation {d.get('class_name')} params={d.get('params')} "
                f"formula={d.get('formula')!r}>")

    def __rich__(self):
        return _rich_renderable(self.data)

    def print(self, console=None):
        from rich.console import Console

        (console or Console()).print(_rich_renderable(self.data))


def _normalize_shape(shape):
    if shape is None:
        return None
    if isinstance(shape, str):
        return parse_shape(shape)
    try:
        return tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise SpecError(f"input_shape must be a tuple of ints, e.g. (1, 3, 5); received "
                        f"{shape!r}") from None


def parse_shape(text: str):
    """"1,3,5" / "(1, 3, 5)" / "None,3,5" -> (1, 3, 5) / (None, 3, 5)."""
    t = text.strip().strip("()[]")
    parts = [p.strip() for p in t.split(",")]
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if not parts or any(p == "" for p in parts):
        raise SpecError(f"bad --input {text!r}: give sizes like 1,3,5 (batch, timesteps, "
                        "features)")
    out = []
    for p in parts:
        if p.lower() in ("none", "?", "batch", "b"):
            out.append(None)
            continue
        try:
            v = int(p)
        except ValueError:
            raise SpecError(f"bad --input {text!r}: {p!r} is not a whole number; give sizes "
                            "like 1,3,5 (batch, timesteps, features)") from None
        if v <= 0:
            raise SpecError(f"bad --input {text!r}: sizes must be positive")
        out.append(v)
    return tuple(out)


def _is_cell(layer) -> bool:
    from rnnkit.layers.rnn import RNN

    return not isinstance(layer, RNN) and hasattr(layer, "state_size") and callable(
        getattr(layer, "call", None)) and type(layer).__name__ != "Bidirectional"


def _expected_rank(layer):
    from rnnkit.layers.rnn import RNN

    name = type(layer).__name__
    if isinstance(layer, RNN) or name in ("Bidirectional", "TimeDistributed"):
        return 3
    if _is_cell(layer):
        return 2
    return None


def _resolve_shape(layer, input_shape, notes):
    shape = _normalize_shape(input_shape)
    declared = getattr(layer, "_batch_input_shape", None)
    rank = _expected_rank(layer)
    name = type(layer).__name__
    if shape is None and declared is not None:
        shape = tuple(declared)
        notes.append(f"input shape {_shape_str(shape)} from the layer's input_shape argument")
    if shape is None:
        if rank == 3:
            shape = _DEFAULT_SEQ_SHAPE
        elif rank == 2:
            shape = (_DEFAULT_SEQ_SHAPE[0], _DEFAULT_SEQ_SHAPE[2])
        elif name == "Embedding":
            shape = _DEFAULT_SEQ_SHAPE[:2]
        else:
            shape = (_DEFAULT_SEQ_SHAPE[0], _DEFAULT_SEQ_SHAPE[2])
        layout = "BATCH,FEATURES" if rank == 2 else "BATCH,TIMESTEPS,FEATURES"
        notes.append(f"no input shape given: using the tutorials' input {_shape_str(shape)}; "
                     f"pass --input {layout} (or input_shape=...)")
    if rank == 3 and len(shape) == 2:
        shape = (None,) + shape
    if rank == 2 and len(shape) == 3:
        notes.append(f"a cell runs ONE time step: using x_t of shape "
                     f"{_shape_str((shape[0], shape[2]))} from {_shape_str(shape)}; wrap it in "
                     "RNN(...) to run whole sequences")
        shape = (shape[0], shape[2])
    elif rank == 2 and len(shape) == 1:
        shape = (None,) + shape
    if rank is not None and len(shape) != rank:
        layout = "(batch, timesteps, features)" if rank == 3 else "(batch, features)"
        raise SpecError(f"{name} expects an input of rank {rank} {layout}; received "
                        f"{_shape_str(shape)}")
    return shape


def _flat_tensors(out):
    from rnnkit.symbolic import tree_leaves

    return [t for t in tree_leaves(out) if t is not None]


def _rnn_cells(layer):
    from rnnkit.layers.stacked import StackedRNNCells

    return list(layer.cell.cells) if isinstance(layer.cell, StackedRNNCells) else [layer.cell]


def _explain_rnn_body(layer, shape, info, suffix_base=""):
    cells = _rnn_cells(layer)
    dim = shape[-1]
    infos = []
    for k, cell in enumerate(cells):
        suffix = f"{suffix_base}{k + 1}" if len(cells) > 1 else suffix_base
        ci = _explain_cell(cell, dim, layer.name, suffix)
        infos.append(ci)
        dim = ci["output_size"]
    info["cells"] = infos
    formulas = [c["formula"] for c in infos]
    variables = {}
    for c in infos:
        variables.update(c["variables"])
    if len(formulas) == 1:
        info["formula"] = formulas[0]
    else:
        info["formula"] = "+".join(f"({f})" for f in formulas)
    info["variables"] = variables
    info["formula_substituted"] = substitute(info["formula"], variables)
    info["formula_value"] = eval_formula(info["formula"], variables)
    batch = shape[0]
    time_axis = 0 if layer.time_major else 1
    T = shape[time_axis]
    units = infos[-1]["output_size"]
    state_desc = []
    states = []
    for k, (cell, ci) in enumerate(zip(cells, infos)):
        for nm, size in zip(ci["state_names"], ci["state_sizes"]):
            label = f"{nm}{k + 1}" if len(cells) > 1 else nm
            states.append({"name": label, "shape": [batch, size]})
            state_desc.append(label)
    return {"cells": cells, "T": T, "batch": batch, "units": units, "states": states,
            "state_desc": ", ".join(state_desc)}


def _explain_layer(layer, input_shape=None, node=None, notes=None):
    """Dict explanation of one layer; `node` (from a model graph) gives the shapes."""
    from rnnkit.layers.input_layer import Input
    from rnnkit.layers.rnn import RNN

    notes = list(notes or [])
    cls = type(layer).__name__
    if node is not None:
        shape = input_shape
    else:
        shape = _resolve_shape(layer, input_shape, notes)
    info = {"kind": "layer", "class_name": cls, "name": layer.name,
            "spec": layer.__dict__.get("_explain_source"),
            "input_shape": list(shape) if shape is not None else None}
    # build for real: the counts come from the built layer
    try:
        if not layer.built:
            if _is_cell(layer):
                layer.build(tuple(shape))
                layer.built = True
            elif cls == "Embedding":
                layer.build(tuple(shape))
            else:
                layer.build(tuple(shape))
                layer.built = True
        info["params"] = int(layer.count_params())
    except SpecError:
        raise
    except Exception as err:
        raise SpecError(f"cannot build {cls} for input {_shape_str(shape)}: "
                        f"{_one_line(err)}") from None
    info["trainable_params"] = int(sum(_prod(w.shape) for w in layer.trainable_weights))
    # shapes of this call
    if node is not None:
        outputs = _flat_tensors(node.outputs)
    elif _is_cell(layer):
        outputs = None
    else:
        try:
            dtype = "int32" if cls == "Embedding" else "float32"
            outputs = _flat_tensors(layer(Input(batch_shape=tuple(shape), dtype=dtype)))
        except Exception as err:
            raise SpecError(f"{cls} cannot run on an input of shape {_shape_str(shape)}: "
                            f"{_one_line(err)}") from None
    ctx = {}
    if isinstance(layer, RNN):
        body = _explain_rnn_body(layer, shape, info)
        T, batch, units = body["T"], body["batch"], body["units"]
        ctx.update(cell=body["cells"][0] if len(body["cells"]) == 1 else None,
                   timesteps=T, seq_shape=(batch, T, units), last_shape=(batch, units),
                   state_desc=body["state_desc"])
        names = ["output"] + [s["name"] for s in body["states"]] if layer.return_state \
            else ["output"]
        info["outputs"] = [{"name": n, "shape": list(t.shape)} for n, t in zip(names, outputs)]
        info["states"] = body["states"]
        info["states_returned"] = layer.return_state
        ctx["output_shape"] = tuple(outputs[0].shape)
        if len(body["cells"]) > 1:
            notes.append("stacked cells: each cell's output is the next cell's input (d of "
                         "cell k+1 = u of cell k); the layer outputs the last cell's output")
        if not layer.return_state:
            notes.append("final states are computed but not returned; pass return_state=True "
                         "to get [output, " + body["state_desc"] + "], or use layer.step(x_t, "
                         "states) to run one step at a time")
    elif cls == "Bidirectional":
        fw, bw = layer.forward_layer, layer.backward_layer

        def explain_dirs(tags):
            out = []
            for sub, tag in zip((fw, bw), tags):
                si = {"kind": "layer", "class_name": type(sub).__name__, "name": sub.name,
                      "params": int(sub.count_params()),
                      "direction": "backward" if sub.go_backwards else "forward"}
                body = _explain_rnn_body(sub, shape, si, suffix_base=tag)
                si["states"] = body["states"]
                out.append((si, body))
            return out

        subs = explain_dirs(("", ""))
        same = (subs[0][0]["formula"] == subs[1][0]["formula"]
                and subs[0][0]["variables"] == subs[1][0]["variables"])
        if same:
            info["formula"] = f"2*({subs[0][0]['formula']})"
            variables = dict(subs[0][0]["variables"])
        else:
            subs = explain_dirs(("f", "b"))
            info["formula"] = f"({subs[0][0]['formula']})+({subs[1][0]['formula']})"
            variables = {**subs[0][0]["variables"], **subs[1][0]["variables"]}
        info["sublayers"] = [s for s, _ in subs]
        info["directions_identical"] = same
        info["variables"] = variables
        info["formula_substituted"] = substitute(info["formula"], variables)
        info["formula_value"] = eval_formula(info["formula"], variables)
        body = subs[0][1]
        T, batch, units = body["T"], body["batch"], body["units"]
        merged = 2 * units if layer.merge_mode == "concat" else units
        ctx.update(cell=body["cells"][0] if len(body["cells"]) == 1 else None, timesteps=T,
                   seq_shape=(batch, T, merged), last_shape=(batch, merged),
                   inner_units=units,
                   state_desc=", ".join([f"forward_{s['name']}" for s in body["states"]] +
                                        [f"backward_{s['name']}" for s in body["states"]]))
        names = (["output"] if layer.merge_mode is not None
                 else ["forward_output", "backward_output"])
        if layer.return_state:
            names += ([f"forward_{s['name']}" for s in subs[0][0]["states"]] +
                      [f"backward_{s['name']}" for s in subs[1][0]["states"]])
        info["outputs"] = [{"name": n, "shape": list(t.shape)} for n, t in zip(names, outputs)]
        info["states"] = ([{"name": f"forward_{s['name']}", "shape": s["shape"]}
                           for s in subs[0][0]["states"]] +
                          [{"name": f"backward_{s['name']}", "shape": s["shape"]}
                           for s in subs[1][0]["states"]])
        info["states_returned"] = layer.return_state
        ctx["output_shape"] = tuple(outputs[0].shape)
        notes.append("the backward copy reads the sequence from the end; its outputs are "
                     "flipped back to time order before merging, so output[:, t] sees the "
                     "whole sequence")
    elif _is_cell(layer):
        from rnnkit.layers.stacked import StackedRNNCells

        cells = list(layer.cells) if isinstance(layer, StackedRNNCells) else [layer]
        infos, dim = [], shape[-1]
        for k, cell in enumerate(cells):
            ci = _explain_cell(cell, dim, layer.name, f"{k + 1}" if len(cells) > 1 else "")
            infos.append(ci)
            dim = ci["output_size"]
        info["cells"] = infos
        info["variables"] = {k: v for ci in infos for k, v in ci["variables"].items()}
        info["formula"] = (infos[0]["formula"] if len(infos) == 1
                           else "+".join(f"({ci['formula']})" for ci in infos))
        info["formula_substituted"] = substitute(info["formula"], info["variables"])
        info["formula_value"] = eval_formula(info["formula"], info["variables"])
        batch = shape[0]
        info["outputs"] = [{"name": "output_t", "shape": [batch, infos[-1]["output_size"]]}]
        info["states"] = [{"name": f"{n}{k + 1}" if len(infos) > 1 else n, "shape": [batch, s]}
                          for k, ci in enumerate(infos)
                          for n, s in zip(ci["state_names"], ci["state_sizes"])]
        info["outputs"] += [{"name": f"new {st['name']}", "shape": st["shape"]}
                            for st in info["states"]]
        ci = infos[-1]
        info["states_returned"] = True
        ctx.update(cell=cells[0] if len(cells) == 1 else None,
                   output_shape=(batch, ci["output_size"]))
        if not any("ONE time step" in n for n in notes):
            notes.append("a cell computes one time step: output_t, new_states = cell(x_t, "
                         "states); RNN(cell) runs it over a sequence")
    else:
        _explain_other(layer, shape, info)
        info["outputs"] = [{"name": "output", "shape": list(t.shape)} for t in outputs]
        ctx["output_shape"] = tuple(outputs[0].shape) if outputs else None
    # arguments
    args = _set_arguments(layer)
    info["arguments"] = [{"name": k, "value": _fmt(v), "effect": _effect(layer, k, v, ctx)}
                         for k, v in args.items()]
    inner = args.get("layer")
    if cls == "Bidirectional" and inner is not None:
        for k, v in _set_arguments(inner).items():
            info["arguments"].append({"name": f"layer.{k}", "value": _fmt(v),
                                      "effect": _effect(layer, k, v, ctx)})
    info["notes"] = notes
    info["formula_matches"] = info.get("formula_value") == info["params"]
    return info


def _explain_other(layer, shape, info):
    cls = type(layer).__name__
    weights = list(layer.weights)
    variables, per, eqs = {}, None, []
    if cls == "Dense":
        variables = {"d": int(layer.kernel.shape[0]), "u": int(layer.units)}
        formula = "d*u+u" if layer.use_bias else "d*u"
        per = {"kernel": ("(d, u)", "d*u"), "bias": ("(u,)", "u")}
        b = " + bias" if layer.use_bias else ""
        eqs = [f"y = {_act_name(layer.activation)}(x @ kernel{b})    # on the last axis"]
    elif cls == "Embedding":
        variables = {"n": int(layer.input_dim), "e": int(layer.output_dim)}
        formula = "n*e"
        per = {"embeddings": ("(n, e)", "n*e")}
        eqs = ["y = embeddings[ids]    # one row of e features per id"]
    elif cls == "TimeDistributed":
        inner = layer.layer
        formula = _shape_product_formula(weights)
        eqs = [f"y[:, t] = {type(inner).__name__}(x[:, t]) for every t, same weights"]
    elif cls == "Dropout":
        formula = "0"
        eqs = [f"training: y = x * keep_mask / (1 - {layer.rate});  inference: y = x"]
    else:
        formula = _shape_product_formula(weights)
    info["equations"] = eqs
    info["weights"] = _weight_rows(weights, layer.name, per, variables)
    info["formula"] = formula
    info["variables"] = variables
    info["formula_substituted"] = substitute(formula, variables)
    info["formula_value"] = eval_formula(formula, variables)


def _graph_node(model, layer):
    graph = getattr(model, "_graph", None)
    if graph is None:
        return None
    for node in graph.nodes:
        if node.layer is layer:
            return node
    return None


def _explain_model(model, source=None):
    layers = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        node = _graph_node(model, layer)
        if node is None:
            raise SpecError(f"model '{model.name}' is not built yet: build it (call it on data "
                            "or start it with Input(shape=...)) before explaining it")
        ins = _flat_tensors(node.args[0]) if node.args else node.inputs
        shape = tuple(ins[0].shape) if ins else None
        layers.append(_explain_layer(layer, shape, node=node))
    total = int(model.count_params())
    data = {"kind": "model", "class_name": type(model).__name__, "name": model.name,
            "source": source, "params": total, "layers": layers,
            "formula": " + ".join(f"[{l['name']}]" for l in layers),
            "formula_value": sum(int(l.get("formula_value", l["params"])) for l in layers),
            "inputs": [list(t.shape) for t in (model.inputs or [])],
            "outputs": [list(t.shape) for t in (model.outputs or [])]}
    data["formula_matches"] = data["formula_value"] == total
    return data


def load_for_explain(path):
    """A model from a saved file (model.save) or an `rnnkit train` run directory."""
    p = Path(path)
    if p.is_dir():
        from rnnkit.cli.checkpoint import load_run

        return load_run(p)[0]
    meta = p.parent / "meta.json"
    if meta.exists() and p.name.startswith("model"):
        from rnnkit.cli.checkpoint import load_run

        return load_run(p.parent)[0]
    try:
        from rnnkit.models import load_model
    except ImportError as err:  # pragma: no cover
        raise SpecError(f"cannot load {p}: {err}") from None
    try:
        return load_model(str(p), compile=False)
    except ImportError as err:
        raise SpecError(f"cannot load {p}: model saving is not available in this rnnkit "
                        f"version ({_one_line(err)})") from None
    except Exception as err:
        raise SpecError(f"cannot load {p} as an rnnkit model: {_one_line(err)}") from None


def _looks_like_path(text: str) -> bool:
    t = text.strip()
    return ("(" not in t) and ("/" in t or "\\" in t or t.endswith((".rnnkit", ".keras",
                                                                    ".json", ".npz")))


def explain(layer_or_model, input_shape=None) -> Explanation:
    """Explains a layer, a cell, a model, a spec string, or a saved model file.

    Args:
        layer_or_model: a layer or cell instance (built or not), a model, a spec such as
            "LSTM(64, return_sequences=True)", or the path of a saved model / run directory.
        input_shape: the input's shape, e.g. (1, 3, 5) = (batch, timesteps, features), or
            "1,3,5"; (3, 5) means any batch. Ignored for models (they know their shapes).

    Returns:
        an `Explanation` (print it, or `.to_dict()` / `.to_json()` / `.to_text()`).
    """
    from rnnkit.layers.layer import Layer

    source = None
    obj = layer_or_model
    if isinstance(obj, (str, Path)):
        text = str(obj)
        if Path(text).exists() or _looks_like_path(text):
            if not Path(text).exists():
                raise SpecError(f"file not found: {text}")
            source = text
            obj = load_for_explain(text)
        else:
            obj = parse_spec(text)
    if not isinstance(obj, Layer):
        raise SpecError(f"explain() expects a layer, a model, a spec string or a file path; "
                        f"received {type(obj).__name__}")
    if hasattr(obj, "layers") and hasattr(obj, "compile"):
        if not obj.built and input_shape is not None:
            obj.build(_normalize_shape(input_shape))
        return Explanation(_explain_model(obj, source))
    return Explanation(_explain_layer(obj, input_shape))


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------
def _shape_txt(shape) -> str:
    return _shape_str(tuple(shape))


def _layer_title(d) -> str:
    head = d.get("spec") or f"{d['class_name']} '{d['name']}'"
    if d.get("input_shape") is not None:
        head += f"  on input {_shape_txt(d['input_shape'])}"
    return head


def _cell_lines(c, indent="  "):
    lines = []
    title = f"{c['class_name']}: d = {c['input_dim']} input features, u = {c['units']} units"
    if c.get("gate_order"):
        title += f"; gate order {c['gate_order']}"
    lines.append(indent + title)
    for eq in c.get("equations", []):
        lines.append(indent + "  " + eq)
    return lines


def _weights_table_lines(rows, indent="  "):
    if not rows:
        return [indent + "(no weights)"]
    data = [("weight", "shape", "params", "formula")]
    for r in rows:
        f = r.get("formula", "")
        if f and "shape_formula" in r:
            f = f"{r['shape_formula']} -> {f}"
        data.append((r["path"], _shape_txt(r["shape"]), f"{r['params']:,}", f))
    widths = [max(len(row[i]) for row in data) for i in range(4)]
    out = []
    for j, row in enumerate(data):
        out.append(indent + "  ".join(cell.ljust(widths[i]) if i != 2 else
                                      cell.rjust(widths[i]) for i, cell in
                                      enumerate(row)).rstrip())
        if j == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return out


def _all_weight_rows(d):
    rows = []
    for c in d.get("cells", []):
        rows += c["weights"]
    for s in d.get("sublayers", []):
        for c in s.get("cells", []):
            rows += c["weights"]
    if not rows:
        rows = d.get("weights", [])
    return rows


def _param_line(d) -> str:
    ok = "" if d.get("formula_matches", True) else "  (differs from the built layer!)"
    if d.get("formula") in (None, "0") and d["params"] == 0:
        return "parameters: 0"
    return (f"parameters: {d['params']:,} = {d['formula']} = {d['formula_substituted']}"
            f"{ok}")


def _sublayers_to_show(d):
    subs = d.get("sublayers", [])
    return subs[:1] if d.get("directions_identical") else subs


def _sublayer_title(d, s) -> str:
    if d.get("directions_identical"):
        f, b = d["sublayers"]
        return (f"forward layer '{f['name']}' and backward layer '{b['name']}' ({s['class_name']}, "
                f"same configuration, separate weights, {s['params']:,} params each):")
    return f"{s['direction']} layer '{s['name']}' ({s['class_name']}, {s['params']:,} params):"


def _layer_text(d, level=0):
    ind = "  " * level
    lines = [ind + _layer_title(d)]
    if d.get("cells"):
        lines.append(ind + "equations (one time step):")
        for c in d["cells"]:
            lines += _cell_lines(c, ind + "  ")
    for s in _sublayers_to_show(d):
        lines.append(ind + _sublayer_title(d, s))
        for c in s["cells"]:
            lines += _cell_lines(c, ind + "  ")
    if d.get("equations"):
        lines.append(ind + "equations:")
        lines += [ind + "  " + e for e in d["equations"]]
    lines.append(ind + "weights:")
    lines += _weights_table_lines(_all_weight_rows(d), ind + "  ")
    lines.append(ind + _param_line(d))
    if d.get("variables"):
        lines.append(ind + "  where " + ", ".join(f"{k} = {v}" for k, v in
                                                   d["variables"].items()))
    lines.append(ind + "shapes for this call:")
    for o in d.get("outputs", []):
        lines.append(ind + f"  {o['name']}: {_shape_txt(o['shape'])}")
    if d.get("states") and not d.get("states_returned"):
        lines.append(ind + "  final states (not returned): " + ", ".join(
            f"{s['name']} {_shape_txt(s['shape'])}" for s in d["states"]))
    if d.get("arguments"):
        lines.append(ind + "arguments set:")
        for a in d["arguments"]:
            lines.append(ind + f"  {a['name']}={a['value']}: {a['effect']}")
    for n in d.get("notes", []):
        lines.append(ind + f"note: {n}")
    return lines


def _text_lines(d):
    if d["kind"] == "model":
        lines = [f"{d['class_name']} model '{d['name']}'" +
                 (f" from {d['source']}" if d.get("source") else ""),
                 f"inputs: {', '.join(_shape_txt(s) for s in d['inputs'])}   outputs: "
                 f"{', '.join(_shape_txt(s) for s in d['outputs'])}",
                 f"total parameters: {d['params']:,}", ""]
        for layer in d["layers"]:
            lines += _layer_text(layer, 0)
            lines.append("")
        return lines
    return _layer_text(d)


def _rich_renderable(d):
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    def layer_group(d):
        parts = []
        cells = list(d.get("cells", []))
        for s in _sublayers_to_show(d):
            parts.append(Text(_sublayer_title(d, s), style="bold"))
            cells_s = s["cells"]
            for c in cells_s:
                parts.append(Text("\n".join(_cell_lines(c, "  ")), style="cyan"))
        if cells:
            parts.append(Text("equations (one time step)", style="bold"))
            for c in cells:
                parts.append(Text("\n".join(_cell_lines(c, "  ")), style="cyan"))
        if d.get("equations"):
            parts.append(Text("equations", style="bold"))
            parts.append(Text("\n".join("  " + e for e in d["equations"]), style="cyan"))
        table = Table(title=None, show_edge=False, header_style="bold")
        for col, just in (("weight", "left"), ("shape", "left"), ("params", "right"),
                          ("formula", "left")):
            table.add_column(col, justify=just)
        for r in _all_weight_rows(d):
            f = r.get("formula", "")
            if f and "shape_formula" in r:
                f = f"{r['shape_formula']} -> {f}"
            table.add_row(Text(r["path"]), Text(_shape_txt(r["shape"])),
                          Text(f"{r['params']:,}"), Text(f))
        parts.append(table)
        line = Text(_param_line(d), style="bold green" if d.get("formula_matches", True)
                    else "bold red")
        parts.append(line)
        if d.get("variables"):
            parts.append(Text("  where " + ", ".join(f"{k} = {v}" for k, v in
                                                      d["variables"].items())))
        shapes = Table(show_header=False, show_edge=False, box=None)
        shapes.add_column()
        shapes.add_column(style="magenta")
        for o in d.get("outputs", []):
            shapes.add_row(Text(o["name"]), Text(_shape_txt(o["shape"])))
        if d.get("states") and not d.get("states_returned"):
            shapes.add_row(Text("final states (not returned)"), Text(", ".join(
                f"{s['name']} {_shape_txt(s['shape'])}" for s in d["states"])))
        parts.append(Text("shapes for this call", style="bold"))
        parts.append(shapes)
        if d.get("arguments"):
            args = Table(show_header=False, show_edge=False, box=None)
            args.add_column(style="yellow", no_wrap=True)
            args.add_column()
            for a in d["arguments"]:
                args.add_row(Text(f"{a['name']}={a['value']}"), Text(a["effect"]))
            parts.append(Text("arguments set", style="bold"))
            parts.append(args)
        for n in d.get("notes", []):
            parts.append(Text(f"note: {n}", style="dim"))
        return Panel(Group(*parts), title=Text(_layer_title(d)), title_align="left")

    if d["kind"] == "model":
        head = Text(f"{d['class_name']} model '{d['name']}'" +
                    (f" from {d['source']}" if d.get("source") else "") +
                    f" - {d['params']:,} parameters", style="bold")
        return Group(head, *[layer_group(layer) for layer in d["layers"]])
    return layer_group(d)


class _CallableModule(types.ModuleType):
    """Makes `rnnkit.explain(...)` callable while `rnnkit.explain.parse_spec` still works."""

    def __call__(self, *args, **kwargs):
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
