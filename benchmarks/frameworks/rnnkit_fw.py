"""rnnkit, two rows (not peers):

- "rnnkit": the public Keras-shaped API, driven by exactly the same code as keras-jax and
  tf-keras (benchmarks/frameworks/keras_like.py): Sequential / Model, Input, SimpleRNN / LSTM /
  GRU, Bidirectional, Dense, compile(SGD, "mse"), predict_on_batch, train_on_batch.
- "rnnkit-core": the pure core, `rnnkit.core.cells.*_step` run by `rnnkit.core.scan.scan_rnn`,
  jitted by hand (value_and_grad + tree_map SGD for train), i.e. the library's math without the
  Layer/Model machinery.

Anything that raises is reported as "error: ..." in the table; it never stops the run.
"""

from __future__ import annotations

import functools

from benchmarks.frameworks import NotSupported, keras_like

VARIANTS = ["rnnkit", "rnnkit-core"]
rnnkit = jax = jnp = None

# ---- HOOK: bf16 dtype policy ----------------------------------------------------------------
# Keras 3 spells mixed precision per layer as dtype="mixed_bfloat16" (bf16 compute, f32 weights).
# The bf16 rows pass these kwargs to the recurrent layers (the Dense head stays dtype="float32").
# Change here if rnnkit spells its policy differently; set to None to report the rows as n/a.
RNNKIT_BF16_LAYER_KWARGS = {"dtype": "mixed_bfloat16"}
# ---------------------------------------------------------------------------------------------


def setup() -> str:
    global rnnkit, jax, jnp
    import jax as _jax
    import jax.numpy as _jnp

    import rnnkit as _rnnkit

    rnnkit, jax, jnp = _rnnkit, _jax, _jnp
    version = getattr(rnnkit, "__version__", "dev")
    return f"rnnkit {version} / JAX {jax.__version__}"


def _seed():
    for mod, fn in (("utils", "set_random_seed"), ("random", "set_random_seed")):
        try:
            getattr(__import__(f"rnnkit.{mod}", fromlist=[fn]), fn)(0)
            return
        except (ImportError, AttributeError):
            continue


def _sync(result):
    """Blocks on every JAX array in the result (Keras returns NumPy, rnnkit may not)."""
    for leaf in jax.tree_util.tree_leaves(result):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return result


def make(variant, wl, data):
    if variant == "rnnkit":
        import rnnkit.layers
        import rnnkit.models
        import rnnkit.losses
        import rnnkit.optimizers

        _seed()
        return keras_like.make_step(rnnkit.layers, rnnkit.models, rnnkit.optimizers, wl, data,
                                    sync=_sync, bf16_layer_kwargs=RNNKIT_BF16_LAYER_KWARGS,
                                    losses=rnnkit.losses)
    if variant == "rnnkit-core":
        return _make_core(wl, data)
    raise NotSupported(variant)


# ---- the pure-core path ---------------------------------------------------------------------

def _core_params(wl, key):
    from rnnkit.core import cells

    params_cls = {"simple_rnn": cells.SimpleRNNParams, "lstm": cells.LSTMParams,
                  "gru": cells.GRUParams}[wl.cell]
    g = {"simple_rnn": 1, "lstm": 4, "gru": 3}[wl.cell] * wl.H
    dirs = 2 if wl.arch == "bidirectional" else 1
    d_ins = [wl.D, wl.H] if wl.arch == "stacked2" else [wl.D]
    layers = []
    for d_in in d_ins:
        for _ in range(dirs):
            key, k1, k2 = jax.random.split(key, 3)
            layers.append(params_cls(
                kernel=jax.random.normal(k1, (d_in, g)) * (1.0 / d_in) ** 0.5,
                recurrent_kernel=jax.random.normal(k2, (wl.H, g)) * (1.0 / wl.H) ** 0.5,
                bias=jnp.zeros((2, g) if wl.cell == "gru" else (g,))))
    key, k = jax.random.split(key)
    head = (jax.random.normal(k, (wl.H * dirs, 1)) * (1.0 / (wl.H * dirs)) ** 0.5, jnp.zeros((1,)))
    return {"rnn": layers, "head": head}


def _core_forward(wl, params, x, mask):
    from rnnkit.core import cells
    from rnnkit.core.scan import scan_rnn

    step_fn = {"simple_rnn": cells.simple_rnn_step, "lstm": cells.lstm_step,
               "gru": cells.gru_step}[wl.cell]
    B = x.shape[0]

    def init_state():
        h = jnp.zeros((B, wl.H), x.dtype)
        return cells.LSTMState(h, h) if wl.cell == "lstm" else h

    def run(p, xs, *, reverse=False, return_sequences=False):
        step = functools.partial(step_fn, p)
        return scan_rnn(step, init_state(), xs, mask=mask, reverse=reverse,
                        return_sequences=return_sequences)

    layers = params["rnn"]
    if wl.arch == "bidirectional":
        last = jnp.concatenate([run(layers[0], x)[0], run(layers[1], x, reverse=True)[0]], -1)
    elif wl.arch == "stacked2":
        _, seq, _ = run(layers[0], x, return_sequences=True)
        last = run(layers[1], seq)[0]
    else:
        last = run(layers[0], x)[0]
    W, b = params["head"]
    return last @ W + b


def _make_core(wl, data):
    if wl.arch == "charlm":
        raise NotSupported("rnnkit-core times the bare recurrence; the main job is a whole model")
    if wl.bf16:
        # HOOK: rnnkit.core has no mixed-precision matmul option yet; wire it here when it does.
        raise NotSupported("rnnkit.core has no bf16 option (hook in benchmarks/frameworks/rnnkit_fw.py)")
    params = _core_params(wl, jax.random.key(0))
    x = jnp.asarray(data["x"])
    y = jnp.asarray(data["y"])
    mask = jnp.asarray(data["mask"]) if wl.masked else None

    if wl.mode == "infer":
        fwd = jax.jit(lambda params, x, mask: _core_forward(wl, params, x, mask))
        return lambda: fwd(params, x, mask).block_until_ready()

    def loss_fn(params, x, y, mask):
        return jnp.mean((_core_forward(wl, params, x, mask) - y) ** 2)

    def train_step(params, x, y, mask):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, mask)
        return jax.tree.map(lambda p, g: p - 0.01 * g, params, grads), loss

    train_step = jax.jit(train_step, donate_argnums=0)
    state = {"params": params}

    def step():
        state["params"], loss = train_step(state["params"], x, y, mask)
        return float(loss)

    return step
