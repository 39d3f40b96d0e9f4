"""What each argument that was set changes, as data: one entry per argument name.

`EFFECTS` maps an argument name to `(value, ctx) -> text`; `SUFFIX_EFFECTS` covers the
`*_regularizer` / `*_initializer` / `*_constraint` families; a layer's describer may override
any entry for its own class (`Describer.effects`, e.g. Dense's `units`). `ctx` holds what the
describer learned about this call: `cell_text` (the cell kind's
`rnnkit.core.kernels.spec.ExplainText`, or None),
`timesteps`, `seq_shape`, `last_shape`, `state_desc`, `inner_units`, `output_shape`.
"""

from __future__ import annotations

from rnnkit.explain.spec import shape_str

__all__ = ["EFFECTS", "SUFFIX_EFFECTS", "effect", "fmt_value", "set_arguments"]


def fmt_value(value) -> str:
    """An argument value as the user would write it."""
    from rnnkit.layers.layer import Layer

    if isinstance(value, Layer):
        src = value.__dict__.get("_explain_source")
        return src or f"{type(value).__name__}(...)"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(fmt_value(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if hasattr(value, "get_config") and not isinstance(value, type):
        try:
            cfg = value.get_config()
            args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if v not in (None, 0, 0.0))
            return f"{type(value).__name__}({args})"
        except Exception:
            pass
    return repr(value)


def _text(ctx, field, default):
    text = ctx.get("cell_text")
    return getattr(text, field) if text is not None else default


def _units(v, ctx):
    return (f"size of the state{_text(ctx, 'state_note', '')} and of each output: {v} "
            "features; the weights grow with it (see the formula)")


def _return_sequences(v, ctx):
    seq, last = shape_str(ctx.get("seq_shape")), shape_str(ctx.get("last_shape"))
    if v:
        return (f"the output holds every time step, {seq}, instead of only the last one "
                f"{last}")
    return (f"the output is the last time step only, {last}; set True for all "
            f"{ctx.get('timesteps')} steps {seq} (needed to stack another recurrent layer)")


def _return_state(v, ctx):
    states = ctx.get("state_desc", "the final state(s)")
    if v:
        return (f"the call returns a list [output, {states}]: unpack it as "
                f"`output, {states} = layer(x)`")
    return "the call returns only the output (states are not returned)"


def _merge_mode(v, ctx):
    u = ctx.get("inner_units")
    if v == "concat":
        return f"forward and backward outputs are concatenated: {2 * u} features"
    if v is None:
        return "the call returns [forward_output, backward_output] separately"
    return f"forward and backward outputs are combined elementwise ({v}): {u} features"


def _either(if_true, if_false):
    return lambda v, ctx: if_true if v else if_false


_DECLARES_INPUT = ("declares the input shape, used when this layer starts a Sequential model "
                   "(Keras 3 prefers Input(shape=...))")

EFFECTS = {
    "units": _units,
    "activation": lambda v, ctx: (f"{v!s} is used for "
                                  f"{_text(ctx, 'activation_use', 'the state update')} "
                                  "(see equations)"),
    "recurrent_activation": lambda v, ctx: (
        f"{v!s} is used for the gates {_text(ctx, 'recurrent_gates', 'the gates')} "
        "(see equations)"),
    "use_bias": _either("adds the bias vector(s) listed below (the default)",
                        "no bias: the bias term is dropped from the equations and the "
                        "parameters"),
    "return_sequences": _return_sequences,
    "return_state": _return_state,
    "go_backwards": _either("reads the sequence from the last step to the first (outputs in "
                            "processing order)",
                            "reads the sequence from first to last (the default)"),
    "stateful": _either("the final states of each call are the initial states of the next "
                        "(fixed batch size); call reset_states() between independent sequences",
                        "every call starts from zero states (the default)"),
    "unroll": _either("the time loop is unrolled in the compiled code (faster for short "
                      "sequences, slower to compile)", "the time loop is a lax.scan (the default)"),
    "time_major": _either("inputs and outputs are (timesteps, batch, features)",
                          "inputs and outputs are (batch, timesteps, features)"),
    "dropout": lambda v, ctx: (f"during training, input features x_t are dropped with rate {v} "
                               "(one mask per sequence); no effect at inference"),
    "rate": lambda v, ctx: (f"during training each input is zeroed with probability {v} and "
                            f"the rest scaled by 1/(1-{v}); at inference the layer passes x "
                            "through"),
    "recurrent_dropout": lambda v, ctx: (f"during training, the state h_(t-1) is dropped with "
                                         f"rate {v} in the recurrent matmul (one mask per "
                                         "sequence)"),
    "unit_forget_bias": _either("the forget-gate bias starts at 1 (bias[u:2u] = 1), so the cell "
                                "initially keeps its memory", "the forget-gate bias starts at 0"),
    "reset_after": _either("reset gate applied after the recurrent matmul; bias has shape "
                           "(2, 3*u) (Keras 3 / cuDNN default)",
                           "reset gate applied before the recurrent matmul; bias has shape "
                           "(3*u,)"),
    "merge_mode": _merge_mode,
    "input_shape": lambda v, ctx: _DECLARES_INPUT,
    "batch_input_shape": lambda v, ctx: _DECLARES_INPUT,
    "input_dim": lambda v, ctx: _DECLARES_INPUT,
    "batch_size": lambda v, ctx: _DECLARES_INPUT,
    "name": lambda v, ctx: f"the layer's name; weights are named '{v}/...'",
    "seed": lambda v, ctx: "seed of the dropout masks",
    "dtype": lambda v, ctx: f"weights and outputs use {v}",
    "zero_output_for_mask": lambda v, ctx: ("masked steps output zeros instead of repeating "
                                            "the previous output"),
    "cell": lambda v, ctx: "the cell run at every time step (equations above)",
    "cells": lambda v, ctx: "the cells run one after another at every time step (a deep RNN)",
    "layer": lambda v, ctx: "the layer applied to every time step",
    "backward_layer": lambda v, ctx: "a separate layer for the backward direction",
    "output_dim": lambda v, ctx: f"each id becomes a vector of {v} features",
    "mask_zero": _either("id 0 is padding: it produces a mask so recurrent layers skip those "
                         "steps", "no mask"),
    "use_cudnn": lambda v, ctx: ("accepted for Keras compatibility; rnnkit compiles the same "
                                 "XLA code either way"),
    "trainable": _either("trainable", "frozen: weights are not updated by fit()"),
}


def _regularizer(target, v):
    what = "the layer's output" if target == "activity" else f"`{target}`"
    if v is None:
        return f"no penalty on {what}"
    return (f"adds {fmt_value(v)} of {what} to the training loss (model.losses); outputs are "
            "unchanged")


SUFFIX_EFFECTS = {
    "_regularizer": _regularizer,
    "_initializer": lambda target, v: (f"how `{target}` is initialized ({fmt_value(v)}); "
                                       "outputs before training change"),
    "_constraint": lambda target, v: (f"after each optimizer step, `{target}` is projected "
                                      f"with {fmt_value(v)}"),
}


def effect(arg, value, ctx, overrides=None) -> str:
    """What setting `arg=value` changes; `overrides` are the layer class's own entries."""
    entry = (overrides or {}).get(arg) or EFFECTS.get(arg)
    if entry is not None:
        return entry(value, ctx)
    for suffix, entry in SUFFIX_EFFECTS.items():
        if arg.endswith(suffix):
            return entry(arg[: -len(suffix)], value)
    return f"sets {arg}={fmt_value(value)}"


_FLAGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
          "time_major")


def set_arguments(layer, describer) -> dict:
    """Arguments that were set: as written in a spec, else those differing from defaults."""
    written = layer.__dict__.get("_explain_args")
    if written is not None:
        return dict(written)
    config = layer.get_config()
    try:
        fresh = describer.defaults(layer) if describer.defaults is not None else None
        default = fresh.get_config() if fresh is not None else None
    except Exception:
        default = None
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
    for k in _FLAGS:
        if config.get(k):
            out[k] = config[k]
    if describer.implicit_arguments is not None:
        out.update(describer.implicit_arguments(layer))
    return out
