"""rnnkit.optimizers against plain-NumPy Keras formulas and real-Keras training runs."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rnnkit import losses, optimizers
from rnnkit.optimizers import schedules

SHAPES = [(5,), (2, 3), ()]


# --------------------------------------------------------------------------------------
# NumPy reference (float64, textbook form of each Keras update rule)
# --------------------------------------------------------------------------------------


def np_clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    if clipnorm:
        return [g * clipnorm / max(np.linalg.norm(g), clipnorm) for g in grads]
    if global_clipnorm:
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * global_clipnorm / max(norm, global_clipnorm) for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


class NumpyKeras:
    """One Keras optimizer on a list of float64 arrays."""

    def __init__(self, kind, lr=0.01, schedule=None, weight_decay=None, clip=None, **hp):
        self.kind, self.lr, self.schedule = kind, lr, schedule
        self.wd, self.clip, self.hp, self.t = weight_decay, clip or {}, hp, 0
        self.s = {}

    def slot(self, name, i, like, fill=0.0):
        return self.s.setdefault((name, i), np.full_like(like, fill))

    def step(self, params, grads):
        lr = self.schedule(self.t) if self.schedule else self.lr
        grads = np_clip([np.asarray(g, np.float64) for g in grads], **self.clip)
        out = []
        for i, (w, g) in enumerate(zip(params, grads)):
            if self.wd is not None:
                w = w - w * self.wd * lr
            out.append(getattr(self, self.kind)(i, w, g, lr))
        self.t += 1
        return out

    def sgd(self, i, w, g, lr):
        mom, nesterov = self.hp.get("momentum", 0.0), self.hp.get("nesterov", False)
        if mom == 0:
            return w - lr * g
        m = mom * self.slot("m", i, w) - lr * g
        self.s[("m", i)] = m
        return w + (mom * m - lr * g if nesterov else m)

    def adam(self, i, w, g, lr):
        b1, b2 = self.hp.get("beta_1", 0.9), self.hp.get("beta_2", 0.999)
        eps, t = self.hp.get("epsilon", 1e-7), self.t + 1
        m = b1 * self.slot("m", i, w) + (1 - b1) * g
        v = b2 * self.slot("v", i, w) + (1 - b2) * g * g
        self.s[("m", i)], self.s[("v", i)] = m, v
        if self.hp.get("amsgrad"):
            v = np.maximum(self.slot("vhat", i, w), v)
            self.s[("vhat", i)] = v
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * m / (np.sqrt(v) + eps)

    adamw = adam

    def rmsprop(self, i, w, g, lr):
        rho, mom = self.hp.get("rho", 0.9), self.hp.get("momentum", 0.0)
        eps = self.hp.get("epsilon", 1e-7)
        v = rho * self.slot("v", i, w) + (1 - rho) * g * g
        self.s[("v", i)] = v
        denom = v
        if self.hp.get("centered"):
            mg = rho * self.slot("mg", i, w) + (1 - rho) * g
            self.s[("mg", i)] = mg
            denom = v - mg * mg
        inc = lr * g / np.sqrt(denom + eps)
        if mom > 0:
            m = mom * self.slot("m", i, w) + inc
            self.s[("m", i)] = m
            return w - m
        return w - inc

    def adagrad(self, i, w, g, lr):
        acc = self.slot("acc", i, w, self.hp.get("initial_accumulator_value", 0.1)) + g * g
        self.s[("acc", i)] = acc
        return w - lr * g / np.sqrt(acc + self.hp.get("epsilon", 1e-7))


CASES = [
    # (rnnkit class, numpy kind, kwargs)
    ("SGD", "sgd", dict(learning_rate=0.1)),
    ("SGD", "sgd", dict(learning_rate=0.1, momentum=0.9)),
    ("SGD", "sgd", dict(learning_rate=0.1, momentum=0.8, nesterov=True)),
    ("SGD", "sgd", dict(learning_rate=0.1, momentum=0.5, weight_decay=0.1, clipnorm=0.5)),
    ("Adam", "adam", dict(learning_rate=0.01)),
    ("Adam", "adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3,
                          amsgrad=True)),
    ("Adam", "adam", dict(learning_rate=0.02, global_clipnorm=1.0)),
    ("AdamW", "adamw", dict(learning_rate=0.01)),
    ("AdamW", "adamw", dict(learning_rate=0.01, weight_decay=0.1, clipvalue=0.3)),
    ("RMSprop", "rmsprop", dict(learning_rate=0.01)),
    ("RMSprop", "rmsprop", dict(learning_rate=0.01, rho=0.8, centered=True)),
    ("RMSprop", "rmsprop", dict(learning_rate=0.01, momentum=0.9, centered=True,
                                clipnorm=0.7)),
    ("Adagrad", "adagrad", dict(learning_rate=0.1)),
    ("Adagrad", "adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5,
                                epsilon=1e-3, global_clipnorm=0.5)),
]
_CLIP_KEYS = ("clipnorm", "clipvalue", "global_clipnorm")


def _reference(kind, kwargs, schedule=None):
    kw = dict(kwargs)
    lr = kw.pop("learning_rate", None)
    clip = {k: kw.pop(k) for k in _CLIP_KEYS if k in kw}
    wd = kw.pop("weight_decay", 0.004 if kind == "adamw" else None)
    return NumpyKeras(kind, lr=lr, schedule=schedule, weight_decay=wd, clip=clip, **kw)


def _random_problem(seed, n_steps=5, scale=1.0):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[(scale * rng.normal(size=s)).astype(np.float32) for s in SHAPES]
             for _ in range(n_steps)]
    return params, grads


def _run_pure(opt, params, grads_seq, jit=False):
    """Runs `opt.apply` step by step (eagerly by default: faster than compiling here)."""
    state = opt.init([jnp.asarray(p) for p in params])
    step = jax.jit(opt.apply) if jit else opt.apply
    p = [jnp.asarray(x) for x in params]
    for grads in grads_seq:
        p, state = step([jnp.asarray(g) for g in grads], state, p)
    return [np.asarray(x) for x in p], state


def _run_numpy(ref, params, grads_seq):
    p = [np.asarray(x, np.float64) for x in params]
    for grads in grads_seq:
        p = ref.step(p, grads)
    return p


@pytest.mark.parametrize("cls,kind,kwargs", CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_matches_numpy_keras_formula(cls, kind, kwargs):
    params, grads = _random_problem(seed=len(str(kwargs)), scale=2.0)
    got, state = _run_pure(getattr(optimizers, cls)(**kwargs), params, grads)
    want = _run_numpy(_reference(kind, kwargs), params, grads)
    for g, w, p0 in zip(got, want, params):
        assert not np.allclose(w, p0)  # the reference moved: the test can fail
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
    assert int(state.iterations) == len(grads)


def test_transformation_matches_apply_and_optax_chain():
    params, grads = _random_problem(seed=3)
    opt = optimizers.AdamW(learning_rate=0.01, weight_decay=0.05, clipnorm=1.0)
    tx = opt.transformation()
    p_apply, _ = _run_pure(opt, params, grads, jit=True)
    p = [jnp.asarray(x) for x in params]
    state = tx.init(p)
    for g in grads:
        updates, state = jax.jit(tx.update)(g, state, p)
        p = optax.apply_updates(p, updates)
    for a, b in zip(p, p_apply):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # Composes with other optax transformations.
    chained = optax.chain(optax.identity(), optimizers.SGD(0.5).transformation())
    upd, _ = chained.update({"w": jnp.ones(2)}, chained.init({"w": jnp.zeros(2)}))
    np.testing.assert_allclose(upd["w"], [-0.5, -0.5])


def test_apply_accepts_any_pytree_and_keeps_dtype():
    params = {"dense": {"kernel": jnp.ones((2, 3)), "bias": jnp.zeros(3)},
              "scale": jnp.asarray(2.0)}
    grads = jax.tree.map(lambda x: jnp.full_like(x, 0.5), params)
    opt = optimizers.SGD(learning_rate=0.1)
    new, state = jax.jit(opt.apply)(grads, opt.init(params), params)
    assert jax.tree.structure(new) == jax.tree.structure(params)
    np.testing.assert_allclose(new["dense"]["kernel"], 0.95)
    np.testing.assert_allclose(new["scale"], 1.95)
    assert new["scale"].dtype == jnp.float32 and state.iterations.dtype == jnp.int32


def test_adam_epsilon_is_not_bias_corrected_unlike_optax():
    # Keras adds eps to sqrt(v) with lr scaled by sqrt(1 - b2^t) / (1 - b1^t); optax
    # divides by sqrt(v_hat) + eps instead. With tiny gradients the two differ a lot.
    g = np.full(5, 1e-4)
    opt = optimizers.Adam(0.1, epsilon=1e-3)
    got, _ = opt.apply(jnp.asarray(g, jnp.float32), opt.init(jnp.zeros(5)), jnp.zeros(5))
    m, v = 0.1 * g, 0.001 * g * g
    keras = -0.1 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-3)
    optax_style = -0.1 * (m / 0.1) / (np.sqrt(v / 0.001) + 1e-3)
    np.testing.assert_allclose(got, keras, rtol=1e-5)
    assert not np.allclose(got, optax_style, rtol=1e-2)


# --------------------------------------------------------------------------------------
# Schedules and learning rate changes
# --------------------------------------------------------------------------------------


def test_schedule_formulas():
    steps = np.arange(0, 25)
    s = jnp.asarray(steps)
    ed = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    np.testing.assert_allclose(ed(s), 0.1 * 0.5 ** (steps / 4), rtol=1e-6)
    eds = schedules.ExponentialDecay(0.1, 4, 0.5, staircase=True)
    np.testing.assert_allclose(eds(s), 0.1 * 0.5 ** (steps // 4), rtol=1e-6)
    pw = schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.1])
    np.testing.assert_allclose(pw(s), np.where(steps <= 3, 1.0, np.where(steps <= 7, 0.5, 0.1)))
    cd = schedules.CosineDecay(0.2, decay_steps=10, alpha=0.1)
    frac = np.minimum(steps, 10) / 10
    np.testing.assert_allclose(cd(s), 0.2 * (0.9 * 0.5 * (1 + np.cos(np.pi * frac)) + 0.1),
                               rtol=1e-5, atol=1e-7)
    cw = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.4, warmup_steps=5)
    want = [0.4 * t / 5 if t < 5 else
            0.4 * 0.5 * (1 + np.cos(np.pi * min(t - 5, 10) / 10)) for t in steps]
    np.testing.assert_allclose(cw(s), want, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)


@pytest.mark.parametrize("make", [
    lambda: schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.7),
    lambda: optax.linear_schedule(0.05, 0.01, transition_steps=4),
])
def test_schedule_is_evaluated_at_iterations_before_the_update(make):
    sched = make()
    params, grads = _random_problem(seed=11)
    got, state = _run_pure(optimizers.Adam(learning_rate=sched), params, grads)
    want = _run_numpy(_reference("adam", {}, schedule=lambda t: float(sched(t))),
                      params, grads)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(state.learning_rate, sched(len(grads)), rtol=1e-6)


def test_set_learning_rate_changes_next_step_without_retracing():
    traces = []
    opt = optimizers.SGD(learning_rate=0.1)

    @jax.jit
    def step(p, state):
        traces.append(1)
        return opt.apply(jnp.ones_like(p), state, p)

    p, state = jnp.zeros(2), opt.init(jnp.zeros(2))
    p, state = step(p, state)
    state = opt.set_learning_rate(state, 0.5)
    p, state = step(p, state)
    np.testing.assert_allclose(p, [-0.6, -0.6], rtol=1e-6)
    assert len(traces) == 1
    assert float(opt.get_learning_rate(state)) == 0.5
    with pytest.raises(TypeError, match="schedule"):
        sched_opt = optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 2, 0.5))
        sched_opt.set_learning_rate(sched_opt.init(p), 0.1)


def test_zero_argument_callable_learning_rate_is_rejected_clearly():
    with pytest.raises(TypeError, match="must take the current step"):
        optimizers.Adam(learning_rate=lambda: 0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate="fast")


# --------------------------------------------------------------------------------------
# Argument validation, get(), config
# --------------------------------------------------------------------------------------


def test_clip_arguments_are_exclusive():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and "
                                         "`global_clipnorm`"):
        optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0)


def test_clipnorm_is_per_tensor_and_global_clipnorm_is_joint():
    grads = [jnp.array([3.0, 4.0]), jnp.array([0.0, 0.3])]  # norms 5 and 0.3
    p = [jnp.zeros(2), jnp.zeros(2)]

    def step(**clip):
        opt = optimizers.SGD(1.0, **clip)
        return opt.apply(grads, opt.init(p), p)[0]

    per = step(clipnorm=2.0)  # norm 5 -> 2; norm 0.3 is left alone
    np.testing.assert_allclose(per[0], [-1.2, -1.6], rtol=1e-6)
    np.testing.assert_allclose(per[1], [0.0, -0.3], rtol=1e-6)
    joint = step(global_clipnorm=2.0)
    scale = 2.0 / np.sqrt(25 + 0.09)
    np.testing.assert_allclose(joint[0], [-3 * scale, -4 * scale], rtol=1e-5)
    np.testing.assert_allclose(joint[1], [0.0, -0.3 * scale], rtol=1e-5)
    np.testing.assert_allclose(step(global_clipnorm=10.0)[0], [-3.0, -4.0], rtol=1e-6)
    np.testing.assert_allclose(step(clipvalue=0.5)[0], [-0.5, -0.5])
    np.testing.assert_allclose(step(clipnorm=0.0)[0], [-3.0, -4.0])  # <= 0: no clipping


@pytest.mark.parametrize("kwargs,word", [
    (dict(use_ema=True), "use_ema"),
    (dict(loss_scale_factor=128.0), "loss_scale_factor"),
    (dict(gradient_accumulation_steps=4), "gradient_accumulation_steps"),
])
def test_unimplemented_keras_options_raise(kwargs, word):
    with pytest.raises(NotImplementedError, match=word):
        optimizers.RMSprop(**kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="not recognized.*lerning_rate"):
        optimizers.SGD(lerning_rate=0.1)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.warns(UserWarning, match="decay"):
        optimizers.SGD(decay=0.1)


def test_defaults_match_keras():
    sgd, adam, rms, ada, adamw = (optimizers.SGD(), optimizers.Adam(), optimizers.RMSprop(),
                                  optimizers.Adagrad(), optimizers.AdamW())
    assert (sgd.name, sgd.momentum, sgd.nesterov) == ("SGD", 0.0, False)
    assert np.isclose(sgd.learning_rate, 0.01) and np.isclose(adam.learning_rate, 0.001)
    assert (adam.name, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (
        "adam", 0.9, 0.999, 1e-7, False)
    assert (rms.name, rms.rho, rms.momentum, rms.epsilon, rms.centered) == (
        "rmsprop", 0.9, 0.0, 1e-7, False)
    assert (ada.name, ada.initial_accumulator_value, ada.epsilon) == ("adagrad", 0.1, 1e-7)
    assert (adamw.name, adamw.weight_decay) == ("adamw", 0.004)
    assert adam.weight_decay is None and adam.clipnorm is None


@pytest.mark.parametrize("name,cls", [("sgd", "SGD"), ("Adam", "Adam"), ("RMSPROP", "RMSprop"),
                                      ("adagrad", "Adagrad"), ("AdamW", "AdamW")])
def test_get_by_name(name, cls):
    assert type(optimizers.get(name)).__name__ == cls


def test_get_instances_configs_and_unknown_names():
    opt = optimizers.Adam(0.5)
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    again = optimizers.get(optimizers.serialize(opt))
    assert isinstance(again, optimizers.Adam) and np.isclose(again.learning_rate, 0.5)
    with pytest.raises(ValueError) as err:
        optimizers.get("adamm")
    assert str(err.value) == ("Unknown optimizer 'adamm'. Valid names: adagrad, adam, adamw, "
                              "rmsprop, sgd; or pass an Optimizer instance.")
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        optimizers.get(3)


@pytest.mark.parametrize("cls,kind,kwargs", CASES[1::2],
                         ids=[c for c, _, _ in CASES[1::2]])
def test_config_round_trip_gives_same_updates(cls, kind, kwargs):
    opt = getattr(optimizers, cls)(name="mine", **kwargs)
    config = opt.get_config()
    json.dumps(config)
    clone = type(opt).from_config(config)
    assert clone.get_config() == config and clone.name == "mine"
    params, grads = _random_problem(seed=5, n_steps=2)
    for a, b in zip(_run_pure(opt, params, grads)[0], _run_pure(clone, params, grads)[0]):
        np.testing.assert_array_equal(a, b)


def test_schedule_config_round_trip():
    opt = optimizers.SGD(learning_rate=schedules.CosineDecay(0.1, 10, alpha=0.2))
    config = json.loads(json.dumps(opt.get_config()))
    clone = optimizers.SGD.from_config(config)
    assert isinstance(clone._learning_rate, schedules.CosineDecay)
    assert clone._learning_rate.get_config() == opt._learning_rate.get_config()


# --------------------------------------------------------------------------------------
# Keras-style eager API
# --------------------------------------------------------------------------------------


class Var:
    def __init__(self, value, name="v"):
        self.value, self.name = jnp.asarray(value, jnp.float32), name

    def assign(self, value):
        self.value = value


def test_apply_gradients_matches_pure_and_tracks_iterations():
    params, grads = _random_problem(seed=7, n_steps=3)
    variables = [Var(p) for p in params]
    opt = optimizers.RMSprop(learning_rate=0.01, momentum=0.5)
    for g in grads:
        it = opt.apply_gradients(zip(g, variables))
    assert it == opt.iterations == 3
    want = _run_numpy(_reference("rmsprop", dict(learning_rate=0.01, momentum=0.5)),
                      params, grads)
    for v, w in zip(variables, want):
        np.testing.assert_allclose(v.value, w, rtol=2e-5, atol=2e-6)


def test_apply_gradients_subset_and_errors():
    a, b = Var([1.0, 2.0], "a"), Var([3.0], "b")
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    opt.apply_gradients([(jnp.ones(2), a), (jnp.ones(1), b)])
    opt.apply_gradients([(jnp.ones(2), a)])  # b untouched, its momentum too
    np.testing.assert_allclose(a.value, [1.0 - 0.1 - 0.19, 2.0 - 0.1 - 0.19], rtol=1e-6)
    np.testing.assert_allclose(b.value, [2.9], rtol=1e-6)
    opt.apply_gradients([(jnp.ones(1), b)])
    np.testing.assert_allclose(b.value, [2.9 - 0.19], rtol=1e-6)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(None, a), (jnp.ones(1), b)])
    with pytest.raises(ValueError, match="Unknown variable 'c'"):
        opt.apply_gradients([(jnp.ones(1), Var([0.0], "c"))])
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply_gradients([(None, a)])


def test_learning_rate_property_reads_and_writes_the_eager_state():
    v = Var([1.0])
    opt = optimizers.SGD(learning_rate=0.1)
    opt.apply_gradients([(jnp.ones(1), v)])
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and float(opt.state.learning_rate) == 0.5
    opt.apply_gradients([(jnp.ones(1), v)])
    np.testing.assert_allclose(v.value, [0.4], rtol=1e-6)
    sched = optimizers.SGD(learning_rate=schedules.PiecewiseConstantDecay([0], [1.0, 0.1]))
    assert sched.learning_rate == 1.0
    sched.apply_gradients([(jnp.ones(1), Var([0.0]))])
    assert np.isclose(sched.learning_rate, 0.1)
    with pytest.raises(TypeError, match="schedule"):
        sched.learning_rate = 0.3


# --------------------------------------------------------------------------------------
# End to end against real Keras 3.15.1 training runs (tests/fixtures/keras_golden)
# --------------------------------------------------------------------------------------


def _rnn_dense(kind, w, x, softmax):
    W, U, b, Wd, bd = w
    H = U.shape[0]

    def cell(carry, x_t):
        h, c = carry
        z = x_t @ W + h @ U + b[None, :]
        if kind == "SimpleRNN":
            h = jnp.tanh(z)
        else:  # LSTM, gates i, f, c, o
            i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[0], H), x.dtype)
    (h, _), _ = jax.lax.scan(cell, (zeros, zeros), jnp.swapaxes(x, 0, 1))
    y = h @ Wd + bd[None, :]
    return jax.nn.softmax(y) if softmax else y


@pytest.mark.parametrize("case", ["train_simplernn_rmsprop_sparse_cce",
                                  "train_lstm_adam_mse"])
def test_training_matches_keras_golden(golden_dir, case):
    z = np.load(golden_dir / f"{case}.npz", allow_pickle=False)
    cfg = json.loads(str(z["config"]))
    layers = cfg["model"]["layers"]
    assert cfg["n_samples"] == cfg["fit"]["batch_size"]  # one step per epoch
    kind, softmax = layers[0]["__class__"], layers[1]["kwargs"].get("activation") == "softmax"
    spec = cfg["compile"]["optimizer"]
    opt = getattr(optimizers, spec["__class__"])(**spec["kwargs"])
    loss = losses.get(cfg["compile"]["loss"])
    x, y = jnp.asarray(z["x"]), jnp.asarray(z["target"])
    w = [jnp.asarray(z[f"weights_{i}"]) for i in range(cfg["n_weights"])]

    @jax.jit
    def step(w, state):
        value, grads = jax.value_and_grad(lambda w: loss(y, _rnn_dense(kind, w, x, softmax)))(w)
        w, state = opt.apply(grads, state, w)
        return w, state, value

    state, history = opt.init(w), []
    for _ in range(cfg["fit"]["epochs"]):
        w, state, value = step(w, state)
        history.append(float(value))
    np.testing.assert_allclose(history, z["loss_history"], rtol=1e-4, atol=1e-6)
    for i, got in enumerate(w):
        np.testing.assert_allclose(got, z[f"final_weights_{i}"], rtol=1e-4, atol=1e-5)
