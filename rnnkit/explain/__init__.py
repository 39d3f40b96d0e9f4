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

Layer specs are parsed with `ast`, never evaluated (see `rnnkit.explain.spec`).

The package, in the order data flows through it:

    source.py     a string: a saved model / run directory, or a layer spec (never raises)
    spec.py       the spec parser ("LSTM(64, return_sequences=True)" -> a layer), shapes
    registry.py   `Describer` and `register(LayerClass, describer)`, found through the class
    describe.py   one layer (resolve shape, build, call, describer, arguments) or a model
    recurrent.py  describers: RNN (LSTM, GRU, SimpleRNN...), Bidirectional, cells
    basic.py      describers: Dense, Embedding, TimeDistributed, Dropout, generic
    cells.py      one cell: equations and formulas, read from its kind's kernel spec
    formulas.py   formula arithmetic ("4*u*(d+u)+4*u" -> 17920, substitution)
    effects.py    what each argument changes: a table keyed by argument name
    render.py     `Explanation`: to_dict / to_json / to_text / rich

Adding a describer for a new layer type
---------------------------------------
A layer with no describer is still explained: its weights, their shapes and a formula that
is the sum of their shape products (a cell with `state_size` and `call` is described as a
cell). To explain it properly, write a function that fills the explanation and register it
for the class (subclasses inherit it), e.g. in `basic.py` / `recurrent.py`'s `register_all`:

    from rnnkit.explain.registry import Describer, register

    def describe_my_layer(call):          # call: registry.Call
        layer = call.layer                # built; call.shape is its input shape
        ...                               # fill call.info: formula, variables, weights,
                                          # equations, outputs; call.ctx; call.notes
    register(MyLayer, Describer(describe_my_layer, rank=3, default_input=(1, 3, 5),
                                effects={"my_arg": lambda v, ctx: f"... {v} ..."}))

`basic.describe_dense` is a short complete example. A new recurrent CELL kind needs no
describer: an RNN subclass is described by the RNN describer, and the cell's equations,
gate order and formulas come from its kind's spec (`cell._fused_kind`, the key of
`rnnkit.core.kernels`: `CellKernel.equations` and `.explain`); a cell without a kind is
described from its weights. Argument effects shared by every layer
go in `effects.EFFECTS`.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

from rnnkit.explain.describe import explain_layer, explain_model
from rnnkit.explain.formulas import eval_formula, substitute  # noqa: F401 (public names)
from rnnkit.explain.render import Explanation
from rnnkit.explain.source import load_for_explain, load_source  # noqa: F401
from rnnkit.explain.spec import SpecError, layer_names, normalize_shape, parse_shape, \
    parse_spec

__all__ = ["explain", "parse_spec", "Explanation", "SpecError", "layer_names"]


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
        obj, source = load_source(str(obj))
    if not isinstance(obj, Layer):
        raise SpecError(f"explain() expects a layer, a model, a spec string or a file path; "
                        f"received {type(obj).__name__}")
    if hasattr(obj, "layers") and hasattr(obj, "compile"):
        if not obj.built and input_shape is not None:
            obj.build(normalize_shape(input_shape))
        return Explanation(explain_model(obj, source))
    return Explanation(explain_layer(obj, input_shape))


class _CallableModule(types.ModuleType):
    """Makes `rnnkit.explain(...)` callable while `rnnkit.explain.parse_spec` still works."""

    def __call__(self, *args, **kwargs):
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
