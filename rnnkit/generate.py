"""Step-by-step generation: run a sequence model ONE time step at a time.

A character or token model such as::

    model = Sequential([Input(shape=(None,), dtype="int32"), Embedding(V, 64),
                        LSTM(256, return_sequences=True), Dense(V)])

is trained on whole sequences, but generates one token at a time: feed a token, get the
distribution of the next one, sample it, feed it back, carrying the recurrent states. This
module does that with each recurrent layer's compiled one-step API (`layer.step`), the
other layers applied to the one-step slice, and the whole per-step model function compiled
once with `jax.jit` (weights are passed in as arguments, so a model that keeps training
needs no recompilation).

    import rnnkit.generate
    ids = rnnkit.generate(model, prompt_ids, 200, temperature=0.8, top_k=20, seed=0)

    from rnnkit.generate import model_step, initial_states
    states = initial_states(model, batch_size=1)
    y, states = model_step(model, x_t, states)   # y: this step's output, (B, ...)

Feeding x[:, 0], x[:, 1], ... through `model_step` gives the same outputs as
`model(x)[:, t]` for a model whose recurrent layers return sequences (tested to 1e-5).

Supported layers, in a linear stack (`Sequential`, or a functional model that is a chain):
`Embedding`, recurrent layers (`SimpleRNN`, `LSTM`, `GRU`, `RNN(cell)`,
`RNN([cells])`), and per-time-step layers (`Dense`, `Dropout` (inactive when generating),
`Activation`, `TimeDistributed(...)`, `Masking`, `LayerNormalization` over the feature
axis). `Bidirectional` and `go_backwards=True` layers need the future of
the sequence, so they cannot run step by step and raise an error. Masks are not applied.
"""

from __future__ import annotations

import sys
import types

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["generate", "model_step", "initial_states", "step_function", "StepPlan"]

# Per-time-step layers (they act on the last axis only), by class name.
_PER_STEP = {"Dense", "Dropout", "Activation", "LayerNormalization", "GaussianNoise",
             "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "ActivityRegularization",
             "Identity", "ReLU", "LeakyReLU", "ELU", "Softmax"}
_SKIP = {"InputLayer", "Masking"}


def _cls(layer) -> str:
    return type(layer).__name__


def _is_rnn(layer) -> bool:
    from rnnkit.layers.rnn import RNN

    return isinstance(layer, RNN)


def _chain(model) -> list:
    """The layers of `model` in call order, checking that they form a single chain."""
    from rnnkit.layers.layer import Layer

    if _is_rnn(model) or not hasattr(model, "layers"):
        if isinstance(model, Layer):
            return [model]
        raise TypeError(f"expected an rnnkit model or layer, received {type(model).__name__}")
    graph = getattr(model, "_graph", None)
    if graph is None:
        if not model.layers:
            raise ValueError(f"model '{model.name}' has no layers")
        return list(model.layers)
    nodes = [n for n in graph.nodes if _cls(n.layer) != "InputLayer"]
    if len(graph.input_list) != 1 or len(graph.output_list) != 1:
        raise ValueError(
            f"step-by-step generation needs a model with one input and one output; "
            f"'{model.name}' has {len(graph.input_list)} inputs and "
            f"{len(graph.output_list)} outputs")
    prev = graph.input_list[0]
    for node in nodes:
        if len(node.inputs) != 1 or node.inputs[0] is not prev:
            raise ValueError(
                f"step-by-step generation needs a linear stack of layers; in model "
                f"'{model.name}' the layer '{node.layer.name}' does not take the previous "
                "layer's output as its only input")
        prev = _first_output(node)
    return [n.layer for n in nodes]


def _first_output(node):
    from rnnkit.symbolic import tree_leaves

    return tree_leaves(node.outputs)[0]


class StepPlan:
    """How each layer of a model runs for one time step (see `step_function`)."""

    def __init__(self, model):
        self.model = model
        self.layers = _chain(model)
        self.kinds = []
        for layer in self.layers:
            name = _cls(layer)
            if name == "Bidirectional":
                raise ValueError(
                    f"layer '{layer.name}' is Bidirectional: its backward half reads the "
                    "sequence from the end, so the model cannot run one step at a time. "
                    "Generate with a unidirectional model.")
            if _is_rnn(layer):
                if layer.go_backwards:
                    raise ValueError(
                        f"layer '{layer.name}' has go_backwards=True: it reads the sequence "
                        "from the end, so it cannot run one step at a time")
                self.kinds.append("rnn")
            elif name == "Embedding":
                self.kinds.append("embedding")
            elif name in _SKIP:
                self.kinds.append("skip")
            elif name == "TimeDistributed":
                self.kinds.append("time_distributed")
            elif name in _PER_STEP:
                axis = getattr(layer, "axis", -1)
                axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
                if name == "LayerNormalization" and any(a not in (-1, 2) for a in axes):
                    raise ValueError(
                        f"layer '{layer.name}' normalizes over axis {axis}, not only the "
                        "features, so it cannot be applied to one time step")
                self.kinds.append("per_step")
            else:
                raise ValueError(
                    f"layer '{layer.name}' ({name}) cannot be applied to one time step; "
                    "supported: Embedding, SimpleRNN/LSTM/GRU/RNN, Dense, Dropout, "
                    "Activation, TimeDistributed")
        self.rnns = [layer for layer, k in zip(self.layers, self.kinds) if k == "rnn"]
        if not self.rnns:
            raise ValueError("the model has no recurrent layer; step-by-step generation "
                             "needs one (SimpleRNN, LSTM, GRU or RNN)")
        self.embedding_first = next(
            (k for k in self.kinds if k != "skip"), None) == "embedding"
        self.key = tuple(id(layer) for layer in self.layers)

    def apply(self, x, states):
        """Runs one step on arrays inside a trace: `(y, new_states)`."""
        new_states, i = [], 0
        for layer, kind in zip(self.layers, self.kinds):
            if kind == "skip":
                continue
            if kind == "rnn":
                x, s = layer.step(x, states[i], training=False)
                new_states.append(s)
                i += 1
            elif kind == "time_distributed":
                x = layer.layer(x, training=False)
            elif kind == "embedding":
                x = layer(x)
            else:
                x = layer(x, training=False)
        return x, new_states

    def initial_states(self, batch_size: int):
        return [layer.get_initial_state(batch_size) for layer in self.rnns]


def _plan(model) -> StepPlan:
    cache = model.__dict__.get("_rnnkit_step_plan")
    layers = _chain(model)
    if cache is not None and cache.key == tuple(id(layer) for layer in layers):
        return cache
    plan = StepPlan(model)
    model.__dict__["_rnnkit_step_plan"] = plan
    model.__dict__.pop("_rnnkit_step_fns", None)
    return plan


def _pure(plan, fn):
    """Wraps `fn(x_t, states, *rest)` as a pure function of the variables' values."""
    from rnnkit.layers.tracing import Tracing
    from rnnkit.variables import StatelessScope

    variables = plan.model.variables

    def pure(values, *args):
        scope = StatelessScope(variables, values)
        scope.losses = []
        with scope, Tracing(False):
            return fn(*args)

    return pure


def _cached(model, name, build):
    fns = model.__dict__.setdefault("_rnnkit_step_fns", {})
    if name not in fns:
        fns[name] = build()
    return fns[name]


def step_function(model):
    """The compiled one-step function of `model`: `f(values, x_t, states) -> (y, states)`,
    `values` being `[v.value for v in model.variables]`. Compiled once per input shape."""
    plan = _plan(model)
    return _cached(model, "step", lambda: jax.jit(_pure(plan, plan.apply)))


def _ensure_built(model, plan, x_t):
    if getattr(model, "built", False):
        return
    x = jnp.asarray(x_t)
    # any number of time steps: (batch, None) ids or (batch, None, features)
    shape = (None, None) if plan.embedding_first else (None, None, x.shape[-1])
    model.build(shape)
    model.built = True


def _prepare_x(plan, x_t):
    x = jnp.asarray(x_t)
    if plan.embedding_first:
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"this model starts with an Embedding: one step is a batch of "
                             f"token ids of shape (batch,); received shape {tuple(x.shape)}")
        if not jnp.issubdtype(x.dtype, jnp.integer):
            x = x.astype(jnp.int32)
    else:
        if x.ndim == 3 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 2:
            raise ValueError(f"one step is an array of shape (batch, features); received "
                             f"shape {tuple(x.shape)}. Pass x[:, t] for time step t.")
    return x


def initial_states(model, batch_size: int):
    """Zero states for every recurrent layer of `model` (a list, one entry per layer)."""
    return _plan(model).initial_states(int(batch_size))


def model_step(model, x_t, states=None):
    """Runs `model` for ONE time step: `(y_t, new_states) = model_step(model, x_t, states)`.

    Args:
        model: a Sequential (or chain-shaped functional) model, or a single RNN layer.
        x_t: this step's input: token ids of shape (batch,) for a model that starts with an
            Embedding, otherwise features of shape (batch, features).
        states: the states returned by the previous call, or None for zeros (one entry per
            recurrent layer, see `initial_states`).

    Returns:
        `y_t` (the model's output for this step, e.g. (batch, vocab) logits) and the new
        states. Equal to `model(x)[:, t]` when x_t = x[:, t] and the states were carried
        from step 0. The whole step is one compiled function.
    """
    plan = _plan(model)
    x = _prepare_x(plan, x_t)
    _ensure_built(model, plan, x)
    if states is None:
        states = plan.initial_states(x.shape[0])
    fn = step_function(model)
    values = [v._value for v in model.variables]
    return fn(values, x, states)


def _output_is_probabilities(plan) -> bool:
    from rnnkit import activations

    for layer in reversed(plan.layers):
        if plan.kinds[plan.layers.index(layer)] == "skip":
            continue
        inner = getattr(layer, "layer", layer)
        act = getattr(inner, "activation", None)
        if act is None:
            return False
        try:
            return activations.serialize(act) == "softmax"
        except Exception:
            return False
    return False


def _advance_fn(plan, greedy: bool, top_k, from_logits: bool):
    def advance(x, states, key, temperature):
        y, new_states = plan.apply(x, states)
        y = y.astype(jnp.float32)
        logits = y if from_logits else jnp.log(jnp.maximum(y, 1e-30))
        if greedy:
            nxt = jnp.argmax(logits, axis=-1)
        else:
            logits = logits / temperature
            if top_k is not None:
                kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
                logits = jnp.where(logits < kth, -jnp.inf, logits)
            key, sub = jax.random.split(key)
            nxt = jax.random.categorical(sub, logits, axis=-1)
        finite = jnp.all(jnp.isfinite(y))
        return nxt.astype(jnp.int32), new_states, key, finite

    return advance


def generate(model, prompt_ids, length: int, temperature: float = 1.0, top_k=None,
             greedy: bool = False, seed=None, from_logits=None, on_token=None):
    """Samples `length` new token ids after `prompt_ids`, one step at a time.

    Args:
        model: a token model: Embedding -> recurrent layer(s) -> Dense (logits or softmax).
        prompt_ids: ids to start from: shape (T,) for one sequence or (batch, T).
        length: how many new ids to generate.
        temperature: divides the logits before sampling (< 1: more conservative).
        top_k: sample only among the k most likely ids (None: all).
        greedy: always take the most likely id (deterministic; temperature/top_k unused).
        seed: int seed for sampling (None: a fresh random seed).
        from_logits: whether the model outputs logits (True) or probabilities (False);
            None detects a softmax on the last layer.
        on_token: optional callback, called with each step's new ids (a NumPy array of
            shape (batch,)) as they are generated (for streaming output).

    Returns:
        the new ids (without the prompt): shape (length,) or (batch, length).
    """
    plan = _plan(model)
    from rnnkit.variables import check_finite_weights

    if model.built:
        check_finite_weights(model, "generate()")
    if not plan.embedding_first:
        raise ValueError("generate() samples token ids, so the model must start with an "
                         "Embedding; for other models call model_step() yourself")
    prompt = np.asarray(prompt_ids)
    single = prompt.ndim == 1
    if single:
        prompt = prompt[None, :]
    if prompt.ndim != 2 or prompt.shape[1] == 0:
        raise ValueError(f"prompt_ids must hold at least one id, shape (T,) or (batch, T); "
                         f"received shape {np.shape(prompt_ids)}")
    if not np.issubdtype(prompt.dtype, np.integer):
        raise ValueError("prompt_ids must be integer token ids")
    length = int(length)
    if length < 0:
        raise ValueError(f"length must be >= 0; received {length}")
    if not greedy and not temperature > 0:
        raise ValueError(f"temperature must be > 0 (received {temperature}); use greedy=True "
                         "for the most likely id at every step")
    prompt = prompt.astype(np.int32)
    _ensure_built(model, plan, prompt[:, 0])
    vocab = getattr(next(l for l, k in zip(plan.layers, plan.kinds) if k == "embedding"),
                    "input_dim", None)
    if vocab is not None and (prompt.min() < 0 or prompt.max() >= vocab):
        raise ValueError(f"prompt ids must be in [0, {vocab - 1}] (the Embedding's input_dim "
                         f"is {vocab}); received ids in [{prompt.min()}, {prompt.max()}]")
    if top_k is not None:
        top_k = int(top_k)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1; received {top_k}")
        if vocab is not None:
            top_k = min(top_k, vocab)
    if from_logits is None:
        from_logits = not _output_is_probabilities(plan)
    name = f"advance:{bool(greedy)}:{top_k}:{bool(from_logits)}"
    fn = _cached(model, name, lambda: jax.jit(_pure(plan, _advance_fn(
        plan, bool(greedy), top_k, bool(from_logits)))))
    values = [v._value for v in model.variables]
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    key = jax.random.PRNGKey(int(seed))
    temp = jnp.asarray(1.0 if greedy else float(temperature), jnp.float32)
    states = plan.initial_states(prompt.shape[0])
    nxt = finite = None
    for t in range(prompt.shape[1]):
        nxt, states, key, finite = fn(values, jnp.asarray(prompt[:, t]), states, key, temp)
    out = []
    for i in range(length):
        ids = np.asarray(nxt)
        if not bool(finite):  # sampling NaN logits would quietly give id 0 forever
            raise ValueError(
                f"generate(): the model's output at step {prompt.shape[1] + i} is not finite "
                "(NaN or inf), so no id can be sampled from it. Its weights are finite but "
                "too large (overflow); retrain it with a smaller learning rate.")
        out.append(ids)
        if on_token is not None:
            on_token(ids)
        if i + 1 < length:
            nxt, states, key, finite = fn(values, nxt, states, key, temp)
    result = (np.stack(out, axis=1) if out
              else np.zeros((prompt.shape[0], 0), np.int32))
    return result[0] if single else result


class _CallableModule(types.ModuleType):
    """Makes `rnnkit.generate(...)` callable while `rnnkit.generate.model_step` still works."""

    def __call__(self, *args, **kwargs):
        return generate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
