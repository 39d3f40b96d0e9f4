"""rnnkit.activations and rnnkit.initializers against NumPy formulas and Keras facts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit import activations, initializers
from rnnkit.random import set_random_seed


class FakeVariable:
    """Stand-in for an rnnkit Variable: not an array, exposes `.value`."""

    def __init__(self, value):
        self._v = np.asarray(value, dtype="float32")

    @property
    def value(self):
        return self._v


X = np.array([-10, -6, -3.5, -3, -1, -0.5, 0, 0.5, 1, 2.9, 3, 6, 10], dtype="float32")


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


NUMPY_FORMULAS = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2))),
    "softplus": _softplus,
    "softsign": lambda x: x / (np.abs(x) + 1),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "softmax": lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(),
    "log_softmax": lambda x: x - x.max() - np.log(np.exp(x - x.max()).sum()),
}


# ---- activations --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NUMPY_FORMULAS))
def test_activation_matches_numpy_formula(name):
    fn = activations.get(name)
    expected = NUMPY_FORMULAS[name](X.astype("float64"))
    np.testing.assert_allclose(np.asarray(fn(X)), expected, rtol=2e-6, atol=1e-6)


def test_hard_sigmoid_is_keras3_relu6_formula_at_breakpoints():
    out = np.asarray(activations.hard_sigmoid(np.array([-4, -3, -1.5, 0, 1.5, 3, 4], "float32")))
    # Keras 3: relu6(x + 3) / 6, not the Keras 2 slope 0.2.
    np.testing.assert_allclose(out, [0, 0, 0.25, 0.5, 0.75, 1, 1], atol=1e-7)


def test_gelu_approximate_uses_tanh_formula():
    x = X.astype("float64")
    approx = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(np.asarray(activations.gelu(X, approximate=True)), approx,
                               rtol=2e-6, atol=1e-6)
    assert not np.allclose(np.asarray(activations.gelu(X[5:8])),
                           np.asarray(activations.gelu(X[5:8], approximate=True)), atol=1e-6)


@pytest.mark.parametrize("kwargs, expected", [
    # The examples from the Keras 3 `relu` docstring, on x = [-10, -5, 0, 5, 10].
    ({}, [0, 0, 0, 5, 10]),
    ({"negative_slope": 0.5}, [-5, -2.5, 0, 5, 10]),
    ({"max_value": 5.0}, [0, 0, 0, 5, 5]),
    ({"threshold": 5.0}, [0, 0, 0, 0, 10]),
    ({"negative_slope": 0.1, "threshold": 5.0, "max_value": 8.0}, [-1.5, -1.0, -0.5, 0, 8]),
])
def test_relu_keras_options(kwargs, expected):
    x = np.array([-10, -5, 0, 5, 10], "float32")
    np.testing.assert_allclose(np.asarray(activations.relu(x, **kwargs)), expected, atol=1e-6)


def test_elu_alpha_and_leaky_slope_and_softmax_axis():
    x = np.array([[-1.0, 2.0], [0.5, -3.0]], "float32")
    np.testing.assert_allclose(np.asarray(activations.elu(x, alpha=0.5)),
                               np.where(x > 0, x, 0.5 * np.expm1(x)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(activations.leaky_relu(x, negative_slope=0.3)),
                               np.where(x >= 0, x, 0.3 * x), rtol=1e-6)
    s = np.asarray(activations.softmax(x, axis=0))
    np.testing.assert_allclose(s.sum(axis=0), [1, 1], rtol=1e-6)
    np.testing.assert_allclose(s[:, 0], np.exp([-1, 0.5]) / np.exp([-1, 0.5]).sum(), rtol=1e-6)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "relu6", "elu", "selu", "gelu",
                                  "softplus", "softsign", "silu", "exponential", "mish",
                                  "hard_sigmoid", "hard_silu", "leaky_relu"])
def test_nan_propagates(name):
    out = np.asarray(activations.get(name)(np.array([np.nan, 1.0], "float32")))
    assert np.isnan(out[0]) and np.isfinite(out[1])


def test_infinities_follow_ieee():
    inf = np.array([-np.inf, np.inf], "float32")
    np.testing.assert_array_equal(np.asarray(activations.sigmoid(inf)), [0, 1])
    np.testing.assert_array_equal(np.asarray(activations.tanh(inf)), [-1, 1])
    np.testing.assert_array_equal(np.asarray(activations.relu(inf)), [0, np.inf])
    np.testing.assert_array_equal(np.asarray(activations.exponential(inf)), [0, np.inf])


def test_activation_accepts_variable_like():
    v = FakeVariable([-1.0, 2.0])
    np.testing.assert_allclose(np.asarray(activations.relu(v)), [0, 2])
    np.testing.assert_allclose(np.asarray(activations.tanh(v)), np.tanh([-1.0, 2.0]), rtol=1e-6)


def test_activation_get_none_callable_alias_and_dict():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    custom = lambda x: x * 2  # noqa: E731
    assert activations.get(custom) is custom
    assert activations.get({"class_name": "function", "config": "tanh"}) is activations.tanh


def test_activation_get_unknown_name_error_text():
    with pytest.raises(ValueError) as err:
        activations.get("tanhh")
    msg = str(err.value)
    assert msg.startswith("Unknown activation 'tanhh'. Valid names: ")
    assert "tanh" in msg and "sigmoid" in msg and msg.endswith("; or pass a callable.")
    with pytest.raises(ValueError, match="Unknown activation 'Tanh'"):
        activations.get("Tanh")  # case-sensitive, as in Keras
    with pytest.raises(ValueError, match="Could not interpret activation 3"):
        activations.get(3)


def test_activation_serialize_round_trip():
    for name in ["tanh", "sigmoid", "relu", "hard_sigmoid", "linear", "softmax", "gelu"]:
        fn = activations.get(name)
        assert activations.serialize(fn) == name
        assert activations.get(activations.serialize(fn)) is fn
    assert activations.serialize(activations.swish) == "silu"  # Keras's canonical name
    assert activations.serialize(activations.hard_swish) == "hard_silu"

    def my_act(x):
        return x

    assert activations.serialize(my_act)["config"] == "my_act"


# ---- initializers: constant ---------------------------------------------------------


def test_constant_initializers():
    np.testing.assert_array_equal(np.asarray(initializers.get("zeros")((2, 3))), np.zeros((2, 3)))
    ones = initializers.get("ones")((4,), dtype="float32")
    np.testing.assert_array_equal(np.asarray(ones), np.ones(4))
    assert ones.dtype == np.float32
    c = initializers.Constant(2.5)((2, 2))
    np.testing.assert_array_equal(np.asarray(c), np.full((2, 2), 2.5))
    eye = initializers.Identity(gain=3.0)((2, 3))
    np.testing.assert_array_equal(np.asarray(eye), 3.0 * np.eye(2, 3))
    assert initializers.Zeros()((3,), dtype="int32").dtype == np.int32


def test_identity_rejects_non_matrix():
    with pytest.raises(ValueError, match=r"2-D shape .* Received: shape=\(2, 2, 2\) of rank 3"):
        initializers.Identity()((2, 2, 2))


# ---- initializers: fans and distributions -------------------------------------------


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)),
    ((2, 3, 4, 8), (2 * 3 * 4, 2 * 3 * 8)), ((5, 4, 6), (20, 30)),
])
def test_compute_fans_like_keras(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_glorot_uniform_limit_on_large_sample():
    fan_in, fan_out = 300, 500
    w = np.asarray(initializers.GlorotUniform(seed=3)((fan_in, fan_out)))
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float32
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.999 * limit  # the bound is actually reached
    assert abs(w.mean()) < 0.01 * limit
    assert abs(w.var() / (limit**2 / 3) - 1) < 0.02  # Uniform[-l, l] has variance l^2/3


@pytest.mark.parametrize("cls, scale, fan", [
    (initializers.HeNormal, 2.0, "in"), (initializers.LecunNormal, 1.0, "in"),
    (initializers.GlorotNormal, 1.0, "avg"),
])
def test_truncated_normal_presets_have_target_variance(cls, scale, fan):
    fan_in, fan_out = 200, 600
    w = np.asarray(cls(seed=11)((fan_in, fan_out)))
    n = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[fan]
    target_std = math.sqrt(scale / n)
    # The 0.8796... correction makes the *truncated* samples have std sqrt(scale / n).
    assert abs(w.std() / target_std - 1) < 0.02
    assert np.abs(w).max() <= 2 * target_std / 0.87962566103423978 * (1 + 1e-6)


@pytest.mark.parametrize("cls, factor", [(initializers.HeUniform, 6.0),
                                         (initializers.LecunUniform, 3.0)])
def test_fan_in_uniform_presets_limit(cls, factor):
    w = np.asarray(cls(seed=2)((400, 100)))
    limit = math.sqrt(factor / 400)
    assert limit * 0.999 < np.abs(w).max() <= limit


def test_variance_scaling_modes_and_distributions():
    shape = (100, 400)
    u = np.asarray(initializers.VarianceScaling(3.0, "fan_out", "uniform", seed=1)(shape))
    assert math.sqrt(3 * 3.0 / 400) * 0.999 < np.abs(u).max() <= math.sqrt(3 * 3.0 / 400)
    vs = initializers.VarianceScaling(0.5, "fan_avg", "untruncated_normal", seed=1)
    n = np.asarray(vs(shape))
    assert abs(n.std() / math.sqrt(0.5 / 250) - 1) < 0.02
    assert np.abs(n).max() > 3 * math.sqrt(0.5 / 250)  # not truncated
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"


@pytest.mark.parametrize("kwargs, text", [
    ({"scale": 0.0}, "`scale` must be a positive number. Received: scale=0.0"),
    ({"mode": "fan_sum"}, "Invalid `mode`: 'fan_sum'. Expected one of fan_in, fan_out, fan_avg"),
    ({"distribution": "gaussian"}, "Invalid `distribution`: 'gaussian'"),
])
def test_variance_scaling_argument_errors(kwargs, text):
    with pytest.raises(ValueError) as err:
        initializers.VarianceScaling(**kwargs)
    assert text in str(err.value)


def test_random_normal_uniform_truncated_defaults():
    n = np.asarray(initializers.RandomNormal(seed=5)((200, 200)))
    assert abs(n.std() / 0.05 - 1) < 0.02 and abs(n.mean()) < 0.002
    u = np.asarray(initializers.RandomUniform(seed=5)((200, 200)))
    assert -0.05 <= u.min() and u.max() < 0.05 and u.max() > 0.0499
    t = np.asarray(initializers.TruncatedNormal(mean=1.0, stddev=0.1, seed=5)((200, 200)))
    assert 0.8 <= t.min() and t.max() <= 1.2 and abs(t.mean() - 1) < 0.002


# ---- initializers: orthogonal -------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 3), (3, 8), (2, 3, 4)])  # tall, wide, 3-D
def test_orthogonal_has_orthonormal_columns_or_rows(shape):
    q = np.asarray(initializers.Orthogonal(seed=4)(shape), dtype="float64")
    assert q.shape == shape
    flat = q.reshape(-1, shape[-1])
    rows, cols = flat.shape
    gram = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-5)


def test_orthogonal_gain_and_sign_correction():
    g = np.asarray(initializers.Orthogonal(gain=2.0, seed=9)((5, 5)), dtype="float64")
    np.testing.assert_allclose(g.T @ g, 4 * np.eye(5), atol=1e-4)
    # Keras's method: Q from qr(A) with Q *= sign(diag(R)), i.e. R gets a positive diagonal.
    q = g / 2.0
    a_rebuilt_r = q.T @ np.asarray(
        initializers.RandomNormal(mean=0.0, stddev=1.0, seed=9)((5, 5)), dtype="float64")
    assert np.all(np.diag(a_rebuilt_r) > 0)
    with pytest.raises(ValueError, match="rank >= 2"):
        initializers.Orthogonal()((5,))


# ---- initializers: seeding ----------------------------------------------------------

# Values produced by Keras 3.15.1 (JAX backend) for the same calls.
KERAS_GLOROT_UNIFORM_SEED42_3x4 = [
    [0.12355933338403702, -0.804447591304779, -0.21910017728805542, 0.39248019456863403],
    [0.5298373103141785, -0.17979982495307922, -0.00012692130985669792, -0.07617530226707458],
    [-0.5521710515022278, 0.012635624036192894, 0.583905816078186, 0.6740316152572632]]
KERAS_ORTHOGONAL_SEED1_2x3 = [
    [-0.7734724283218384, 0.6082520484924316, 0.17824113368988037],
    [-0.3142886161804199, -0.12384743243455887, -0.9412144422531128]]
KERAS_HE_NORMAL_SEED7_2x2 = [[-0.473833829164505, -0.6362117528915405],
                             [0.26622122526168823, 0.6492953300476074]]
# keras.utils.set_random_seed(123); keras.initializers.GlorotUniform()((2, 3))
KERAS_UNSEEDED_GLOROT_AFTER_SET_SEED_123 = [
    [1.0519609451293945, -0.11364615708589554, 0.0004426907398737967],
    [-0.624863862991333, 0.4632396996021271, 0.13714976608753204]]


def test_seeded_values_equal_keras_jax_backend():
    np.testing.assert_allclose(np.asarray(initializers.GlorotUniform(seed=42)((3, 4))),
                               KERAS_GLOROT_UNIFORM_SEED42_3x4, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(initializers.Orthogonal(seed=1)((2, 3))),
                               KERAS_ORTHOGONAL_SEED1_2x3, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(initializers.HeNormal(seed=7)((2, 2))),
                               KERAS_HE_NORMAL_SEED7_2x2, rtol=1e-6, atol=1e-7)


def test_unseeded_after_set_random_seed_equals_keras():
    set_random_seed(123)
    np.testing.assert_allclose(np.asarray(initializers.GlorotUniform()((2, 3))),
                               KERAS_UNSEEDED_GLOROT_AFTER_SET_SEED_123, rtol=1e-6, atol=1e-7)


def test_explicit_seed_repeats_on_every_call_and_instance():
    init = initializers.RandomNormal(seed=17)
    a, b = np.asarray(init((3, 3))), np.asarray(init((3, 3)))
    np.testing.assert_array_equal(a, b)  # Keras 3: stateless, same values each call
    np.testing.assert_array_equal(a, np.asarray(initializers.RandomNormal(seed=17)((3, 3))))
    assert not np.allclose(a, np.asarray(initializers.RandomNormal(seed=18)((3, 3))))


def test_unseeded_instances_differ_and_set_random_seed_reproduces():
    set_random_seed(5)
    first = [np.asarray(initializers.get("glorot_uniform")((4, 4))) for _ in range(2)]
    assert not np.allclose(first[0], first[1])  # each new instance gets its own seed
    set_random_seed(5)
    again = [np.asarray(initializers.get("glorot_uniform")((4, 4))) for _ in range(2)]
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    init = initializers.Orthogonal()
    np.testing.assert_array_equal(np.asarray(init((3, 3))), np.asarray(init((3, 3))))
    assert init.get_config()["seed"] is None


@pytest.mark.parametrize("seed", ["42", 1.5, True, [1]])
def test_bad_seed_error(seed):
    with pytest.raises(ValueError, match="`seed` must be an integer or None. Received: seed="):
        initializers.GlorotUniform(seed=seed)


# ---- initializers: lookup and config ------------------------------------------------


@pytest.mark.parametrize("name, cls", [
    ("zeros", initializers.Zeros), ("ones", initializers.Ones),
    ("constant", initializers.Constant), ("identity", initializers.Identity),
    ("random_normal", initializers.RandomNormal), ("random_uniform", initializers.RandomUniform),
    ("truncated_normal", initializers.TruncatedNormal),
    ("variance_scaling", initializers.VarianceScaling),
    ("glorot_uniform", initializers.GlorotUniform), ("glorot_normal", initializers.GlorotNormal),
    ("he_uniform", initializers.HeUniform), ("he_normal", initializers.HeNormal),
    ("lecun_uniform", initializers.LecunUniform), ("lecun_normal", initializers.LecunNormal),
    ("orthogonal", initializers.Orthogonal), ("Orthogonal", initializers.Orthogonal),
    ("GlorotUniform", initializers.GlorotUniform), ("uniform", initializers.RandomUniform),
    ("normal", initializers.RandomNormal), ("one", initializers.Ones), ("zero", initializers.Zeros),
])
def test_initializer_get_by_name(name, cls):
    assert type(initializers.get(name)) is cls


def test_initializer_get_other_identifiers():
    assert initializers.get(None) is None
    inst = initializers.HeNormal(seed=1)
    assert initializers.get(inst) is inst
    assert isinstance(initializers.get(initializers.Zeros), initializers.Zeros)
    fn = lambda shape, dtype=None: np.zeros(shape)  # noqa: E731
    assert initializers.get(fn) is fn


def test_initializer_get_unknown_lists_names():
    with pytest.raises(ValueError) as err:
        initializers.get("glorot_uniformm")
    msg = str(err.value)
    assert msg.startswith("Unknown initializer 'glorot_uniformm'. Valid names: ")
    assert "glorot_uniform" in msg and "orthogonal" in msg and "he_normal" in msg
    with pytest.raises(ValueError, match="Could not interpret initializer 5"):
        initializers.get(5)


@pytest.mark.parametrize("init", [
    initializers.GlorotUniform(seed=3), initializers.Orthogonal(gain=0.5, seed=2),
    initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
    initializers.RandomUniform(-1.0, 2.0, seed=4), initializers.Constant(7.0),
    initializers.Identity(0.5), initializers.TruncatedNormal(0.1, 0.2, seed=8),
])
def test_initializer_config_round_trip(init):
    clone = initializers.get(initializers.serialize(init))
    assert type(clone) is type(init) and clone.get_config() == init.get_config()
    assert type(init).from_config(init.get_config()).get_config() == init.get_config()
    np.testing.assert_array_equal(np.asarray(clone((3, 3))), np.asarray(init((3, 3))))


def test_initializer_config_keys_like_keras():
    assert initializers.GlorotUniform(seed=3).get_config() == {
        "seed": 3, "input_axes": None, "output_axes": None}
    assert initializers.Orthogonal().get_config() == {"seed": None, "gain": 1.0}
    assert initializers.RandomNormal().get_config() == {"seed": None, "mean": 0.0,
                                                        "stddev": 0.05}
    ser = initializers.serialize(initializers.Zeros())
    assert ser["class_name"] == "Zeros" and ser["config"] == {}
    keras_dict = {"module": "keras.initializers", "class_name": "GlorotUniform",
                  "config": {"seed": 3, "input_axes": None, "output_axes": None},
                  "registered_name": None}
    assert initializers.get(keras_dict).seed == 3
    with pytest.raises(ValueError, match="Cannot deserialize initializer"):
        initializers.get({"class_name": "Nope", "config": {}})
