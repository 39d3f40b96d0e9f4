"""Reference floor: a hand-written `lax.scan` in plain JAX (not a peer, not rnnkit).

Keeps `x_t @ W` inside the step (faster than hoisting on XLA:CPU, see shared/perf/xla_cpu_notes.md),
unroll=1, Keras gate order and GRU `reset_after=True`. train = jitted value_and_grad + tree_map SGD
with donated params; infer = jitted forward. bf16 rows: bf16 matmul operands with f32 accumulation,
f32 gates and state.
"""

from __future__ import annotations

from benchmarks.frameworks import NotSupported
from benchmarks.workloads import GATES

VARIANTS = ["jax-scan"]
jax = jnp = None


def setup() -> str:
    global jax, jnp
    import jax as _jax
    import jax.numpy as _jnp

    jax, jnp = _jax, _jnp
    return f"JAX {jax.__version__}"


def _dense_init(key, shape, scale):
    return scale * jax.random.normal(key, shape, jnp.float32)


def _init(wl, key):
    g = GATES[wl.cell] * wl.H
    dirs = 2 if wl.arch == "bidirectional" else 1
    d_ins = [wl.D, wl.H] if wl.arch == "stacked2" else [wl.D]
    layers = []
    for d_in in d_ins:
        for _ in range(dirs):
            key, k1, k2 = jax.random.split(key, 3)
            b_shape = (2, g) if wl.cell == "gru" else (g,)
            layers.append({"W": _dense_init(k1, (d_in, g), (1.0 / d_in) ** 0.5),
                           "U": _dense_init(k2, (wl.H, g), (1.0 / wl.H) ** 0.5),
                           "b": jnp.zeros(b_shape, jnp.float32)})
    key, k = jax.random.split(key)
    head = {"W": _dense_init(k, (wl.H * dirs, 1), (1.0 / (wl.H * dirs)) ** 0.5),
            "b": jnp.zeros((1,), jnp.float32)}
    return {"rnn": layers, "head": head}


def _step_fn(cell, p, bf16):
    W, U = (p["W"].astype(jnp.bfloat16), p["U"].astype(jnp.bfloat16)) if bf16 else (p["W"], p["U"])

    def mm(a, w):
        if bf16:
            return jnp.dot(a.astype(jnp.bfloat16), w, preferred_element_type=jnp.float32)
        return a @ w

    if cell == "lstm":
        def step(carry, x_t):
            h, c = carry
            i, f, g, o = jnp.split(mm(x_t, W) + mm(h, U) + p["b"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h
    elif cell == "gru":
        def step(carry, x_t):
            (h,) = carry
            xz, xr, xh = jnp.split(mm(x_t, W) + p["b"][0], 3, axis=-1)
            hz, hr, hh = jnp.split(mm(h, U) + p["b"][1], 3, axis=-1)
            z = jax.nn.sigmoid(xz + hz)
            r = jax.nn.sigmoid(xr + hr)
            h = z * h + (1.0 - z) * jnp.tanh(xh + r * hh)
            return (h,), h
    else:
        def step(carry, x_t):
            (h,) = carry
            h = jnp.tanh(mm(x_t, W) + mm(h, U) + p["b"])
            return (h,), h
    return step


def _run_layer(cell, p, xs, mask_tm, *, reverse, bf16):
    """xs: (T, B, D) time-major; mask_tm: (T, B) bool or None. Returns (h_T, ys (T, B, H))."""
    B, H = xs.shape[1], p["U"].shape[0]
    carry = tuple(jnp.zeros((B, H), jnp.float32) for _ in range(2 if cell == "lstm" else 1))
    step = _step_fn(cell, p, bf16)
    if mask_tm is not None:
        inner = step

        def step(carry, inp):  # masked steps carry the previous state over
            x_t, m_t = inp
            new, _ = inner(carry, x_t)
            new = tuple(jnp.where(m_t[:, None], n, o) for n, o in zip(new, carry))
            return new, new[0]

        xs = (xs, mask_tm)
    carry, ys = jax.lax.scan(step, carry, xs, reverse=reverse)
    return carry[0], ys


def _forward(wl, params, x, mask):
    xs = jnp.swapaxes(x, 0, 1)
    mask_tm = None if mask is None else jnp.swapaxes(mask, 0, 1)
    layers = params["rnn"]
    if wl.arch == "bidirectional":
        h_f, _ = _run_layer(wl.cell, layers[0], xs, mask_tm, reverse=False, bf16=wl.bf16)
        h_b, _ = _run_layer(wl.cell, layers[1], xs, mask_tm, reverse=True, bf16=wl.bf16)
        last = jnp.concatenate([h_f, h_b], axis=-1)
    else:
        for p in layers:
            last, xs = _run_layer(wl.cell, p, xs, mask_tm, reverse=False, bf16=wl.bf16)
    return last @ params["head"]["W"] + params["head"]["b"]


def make(variant, wl, data):
    if variant != "jax-scan":
        raise NotSupported(variant)
    if wl.arch == "charlm":
        raise NotSupported("jax-scan times the bare recurrence; the main job is a whole model")
    params = _init(wl, jax.random.key(0))
    x = jnp.asarray(data["x"])
    y = jnp.asarray(data["y"])
    mask = jnp.asarray(data["mask"]) if wl.masked else None

    if wl.mode == "infer":
        fwd = jax.jit(lambda params, x, mask: _forward(wl, params, x, mask))
        return lambda: fwd(params, x, mask).block_until_ready()

    def loss_fn(params, x, y, mask):
        return jnp.mean((_forward(wl, params, x, mask) - y) ** 2)

    def train_step(params, x, y, mask):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, mask)
        return jax.tree.map(lambda p, g: p - 0.01 * g, params, grads), loss

    train_step = jax.jit(train_step, donate_argnums=0)
    state = {"params": params}

    def step():
        state["params"], loss = train_step(state["params"], x, y, mask)
        return float(loss)  # blocks until the step (and with it the param update) is done

    return step
