"""Describers of the non-recurrent layers: Dense, Embedding, TimeDistributed, Dropout, and the
generic one (weights by shape) for every other layer."""

from __future__ import annotations

from rnnkit.explain.cells import act_name
from rnnkit.explain.formulas import eval_formula, shape_product_formula, substitute, \
    weight_rows
from rnnkit.explain.registry import Describer, register, set_fallbacks


def _finish(call, formula, variables=None, per=None, equations=()):
    layer, info = call.layer, call.info
    variables = variables or {}
    info["equations"] = list(equations)
    info["weights"] = weight_rows(list(layer.weights), layer.name, per, variables)
    info["formula"] = formula
    info["variables"] = variables
    info["formula_substituted"] = substitute(formula, variables)
    info["formula_value"] = eval_formula(formula, variables)
    info["outputs"] = [{"name": "output", "shape": list(t.shape)} for t in call.outputs]
    call.ctx["output_shape"] = tuple(call.outputs[0].shape) if call.outputs else None


def describe_dense(call):
    layer = call.layer
    b = " + bias" if layer.use_bias else ""
    _finish(call, "d*u+u" if layer.use_bias else "d*u",
            {"d": int(layer.kernel.shape[0]), "u": int(layer.units)},
            {"kernel": ("(d, u)", "d*u"), "bias": ("(u,)", "u")},
            [f"y = {act_name(layer.activation)}(x @ kernel{b})    # on the last axis"])


def describe_embedding(call):
    layer = call.layer
    _finish(call, "n*e", {"n": int(layer.input_dim), "e": int(layer.output_dim)},
            {"embeddings": ("(n, e)", "n*e")},
            ["y = embeddings[ids]    # one row of e features per id"])


def describe_time_distributed(call):
    inner = call.layer.layer
    _finish(call, shape_product_formula(list(call.layer.weights)), equations=[
        f"y[:, t] = {type(inner).__name__}(x[:, t]) for every t, same weights"])


def describe_dropout(call):
    _finish(call, "0", equations=[
        f"training: y = x * keep_mask / (1 - {call.layer.rate});  inference: y = x"])


def describe_generic(call):
    _finish(call, shape_product_formula(list(call.layer.weights)))


DENSE_DESCRIBER = Describer(describe_dense, effects={
    "units": lambda v, ctx: f"the output has {v} features",
    "activation": lambda v, ctx: f"applied to x @ kernel + bias: {v}(...)"})
EMBEDDING_DESCRIBER = Describer(
    describe_embedding, default_input=(1, 3), input_dtype="int32", mark_built=False,
    defaults=lambda layer: type(layer)(layer.input_dim, layer.output_dim),
    effects={"input_dim": lambda v, ctx: f"vocabulary size: ids are in [0, {v - 1}]"})
TIME_DISTRIBUTED_DESCRIBER = Describer(describe_time_distributed, rank=3,
                                       default_input=(1, 3, 5))
DROPOUT_DESCRIBER = Describer(describe_dropout, defaults=lambda layer: type(layer)(layer.rate))
GENERIC_DESCRIBER = Describer(describe_generic)


def register_all():
    from rnnkit.layers.basic import Dense, Dropout
    from rnnkit.layers.embedding import Embedding
    from rnnkit.layers.wrappers import TimeDistributed

    register(Dense, DENSE_DESCRIBER)
    register(Embedding, EMBEDDING_DESCRIBER)
    register(TimeDistributed, TIME_DISTRIBUTED_DESCRIBER)
    register(Dropout, DROPOUT_DESCRIBER)
    from rnnkit.explain.recurrent import CELL_DESCRIBER

    set_fallbacks(cell=CELL_DESCRIBER, layer=GENERIC_DESCRIBER)
