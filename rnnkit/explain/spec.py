"""Layer specs such as "LSTM(64, return_sequences=True)": parsed with `ast`, never evaluated.

Only rnnkit layer/cell class names (optionally prefixed `tf.keras.layers.`, `keras.layers.`,
`layers.`), regularizer, initializer and constraint classes, literals, lists/tuples and nested
calls are accepted. Also the `--input` shape syntax ("1,3,5", "None,3,5").
"""

from __future__ import annotations

import ast
import difflib
import inspect

from rnnkit.utils.text import one_line

__all__ = ["SpecError", "parse_spec", "parse_shape", "normalize_shape", "layer_names",
           "one_line", "shorten"]

MAX_SPEC_CHARS = 4000
_MAX_DEPTH = 24
_PREFIXES = {"tf", "tensorflow", "keras", "layers", "rnnkit", "regularizers",
             "initializers", "constraints"}
_NOT_LAYERS = {"Layer", "InputLayer", "AbstractRNNCell"}
_ECHO_CHARS = 80  # how much of a long spec or path an error message repeats


class SpecError(ValueError):
    """A layer spec that cannot be parsed or built; `str(err)` is one line."""


def shorten(text, limit: int = _ECHO_CHARS) -> str:
    """`text` on one line, cut to about `limit` characters ("...(312 characters)")."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit - 20]}... ({len(text)} characters)"


# ------------------------------------------------------------------------------------------
# names that a spec may use
# ------------------------------------------------------------------------------------------
def layer_classes() -> dict:
    """{class name: class} of the layers and cells a spec may name."""
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
    return sorted(layer_classes())


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
    return SpecError(f"unknown layer {shorten(name)!r}{hint}; valid names: {', '.join(names)}")


class _Parser:
    def __init__(self):
        self.layers = layer_classes()
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
            raise SpecError(f"{name}(...) failed: {one_line(err)}") from None
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
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"the spec is longer than {MAX_SPEC_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise SpecError(f"cannot parse {shorten(text)!r}: {err.msg} (write e.g. 'LSTM(64, "
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
# input shapes
# ------------------------------------------------------------------------------------------
def normalize_shape(shape):
    """None, "1,3,5" or a sequence of ints/None -> a tuple (or None)."""
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


def shape_str(shape) -> str:
    """(None, 3, 5) -> "(batch, 3, 5)"; later None axes print as None."""
    parts = [("batch" if i == 0 else "None") if d is None else str(d)
             for i, d in enumerate(shape)]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
