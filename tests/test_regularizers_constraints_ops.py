"""rnnkit.regularizers, rnnkit.constraints and rnnkit.ops against NumPy formulas."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import constraints, ops, regularizers


class FakeVariable:
    """Stand-in for an rnnkit Variable: not an array, exposes `.value`."""

    def __init__(self, value):
        self._v = np.asarray(value)

    @property
    def value(self):
        return self._v


W = np.array([[1.0, -2.0, 0.5], [-0.25, 3.0, -1.5]], dtype="float32")


# ---- regularizers -------------------------------------------------------------------


def test_l1_l2_l1l2_values():
    np.testing.assert_allclose(float(regularizers.L1(0.1)(W)), 0.1 * np.abs(W).sum(), rtol=1e-6)
    np.testing.assert_allclose(float(regularizers.L2(0.1)(W)), 0.1 * np.square(W).sum(),
                               rtol=1e-6)  # Keras: no factor 1/2
    np.testing.assert_allclose(float(regularizers.L1L2(0.1, 0.2)(W)),
                               0.1 * np.abs(W).sum() + 0.2 * np.square(W).sum(), rtol=1e-6)
    assert float(regularizers.L1L2()(W)) == 0.0


def test_defaults_and_function_style_aliases():
    assert regularizers.L1().l1 == 0.01 and regularizers.L2().l2 == 0.01
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.l1(0.3).get_config() == {"l1": 0.3}
    reg = regularizers.l1_l2(l1=0.001, l2=0.01)
    assert isinstance(reg, regularizers.L1L2) and reg.get_config() == {"l1": 0.001, "l2": 0.01}
    np.testing.assert_allclose(float(regularizers.l2(0.5)(W)), 0.5 * np.square(W).sum(), rtol=1e-6)


def test_regularizer_result_is_scalar_of_weight_dtype_and_accepts_variable():
    out = regularizers.L2(0.1)(FakeVariable(W))
    assert out.shape == () and out.dtype == np.float32
    np.testing.assert_allclose(float(out), 0.1 * np.square(W).sum(), rtol=1e-6)


def test_orthogonal_regularizer_formula():
    w = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [3.0, 0.0, 1.0]], "float32")
    for mode, vecs in [("rows", w), ("columns", w.T)]:
        v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        g = np.abs(v @ v.T)
        n = len(v)
        expected = 0.2 * 0.5 * (g.sum() - np.trace(g)) / (n * (n - 1) / 2)
        got = float(regularizers.OrthogonalRegularizer(0.2, mode)(w))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert float(regularizers.OrthogonalRegularizer()(np.eye(3, dtype="float32"))) == 0.0
    with pytest.raises(ValueError, match="expects a 2-D weight"):
        regularizers.OrthogonalRegularizer()(np.ones(3, "float32"))


@pytest.mark.parametrize("make, text", [
    (lambda: regularizers.L2(-0.1), "Invalid value for argument `l2`: expected a non-negative "
                                    "finite number. Received: l2=-0.1"),
    (lambda: regularizers.L1("0.1"), "Received: l1='0.1'"),
    (lambda: regularizers.L1L2(l1=float("nan")), "Received: l1=nan"),
    (lambda: regularizers.L1L2(l2=float("inf")), "Received: l2=inf"),
    (lambda: regularizers.L2(True), "Received: l2=True"),
    (lambda: regularizers.OrthogonalRegularizer(mode="diag"), "Invalid `mode`: 'diag'"),
])
def test_regularizer_invalid_arguments(make, text):
    with pytest.raises(ValueError) as err:
        make()
    assert text in str(err.value)


def test_regularizer_get_serialize_and_config():
    assert regularizers.get(None) is None
    assert isinstance(regularizers.get("l2"), regularizers.L2)
    assert isinstance(regularizers.get("L1L2"), regularizers.L1L2)
    assert isinstance(regularizers.get("l1l2"), regularizers.L1L2)
    assert isinstance(regularizers.get(regularizers.L1), regularizers.L1)
    reg = regularizers.L1L2(0.1, 0.2)
    assert regularizers.get(reg) is reg
    ser = regularizers.serialize(reg)
    assert ser["class_name"] == "L1L2" and ser["config"] == {"l1": 0.1, "l2": 0.2}
    assert regularizers.get(ser).get_config() == reg.get_config()
    assert regularizers.L2.from_config({"l2": 0.7}).l2 == 0.7
    with pytest.raises(ValueError) as err:
        regularizers.get("l3")
    assert str(err.value).startswith("Unknown regularizer 'l3'. Valid names: ")
    assert "l1_l2" in str(err.value)


# ---- constraints --------------------------------------------------------------------


def _col_norms(w, axis=0):
    return np.sqrt(np.sum(w.astype("float64") ** 2, axis=axis, keepdims=True))


def test_max_norm_formula():
    w = np.array([[3.0, 0.1], [4.0, 0.2]], "float32")  # column norms 5 and ~0.224
    n = _col_norms(w)
    expected = w * (np.clip(n, 0, 2.0) / (1e-7 + n))
    out = np.asarray(constraints.MaxNorm(2.0)(w))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(_col_norms(out)[0, 0], 2.0, rtol=1e-6)
    rows = np.asarray(constraints.max_norm(1.0, axis=1)(w))
    np.testing.assert_allclose(_col_norms(rows, axis=1).ravel()[0], 1.0, rtol=1e-6)


def test_unit_norm_epsilon_is_added_to_norm_outside_sqrt():
    # Keras: w / (1e-7 + sqrt(sum(w**2))). For a norm of 5e-7 this gives w / 6e-7;
    # an epsilon inside the sqrt (or a max) would give very different numbers.
    w = np.array([[3e-7], [4e-7]], "float32")
    np.testing.assert_allclose(np.asarray(constraints.UnitNorm()(w)).ravel(), [0.5, 2 / 3],
                               rtol=1e-5)
    zeros = np.asarray(constraints.UnitNorm()(np.zeros((2, 2), "float32")))
    np.testing.assert_array_equal(zeros, np.zeros((2, 2)))  # no NaN for a zero vector
    big = np.array([[6.0], [8.0]], "float32")
    np.testing.assert_allclose(np.asarray(constraints.unit_norm()(big)).ravel(),
                               [6 / (10 + 1e-7), 8 / (10 + 1e-7)], rtol=1e-6)


def test_min_max_norm_rate():
    w = np.array([[0.3, 6.0], [0.4, 8.0]], "float32")  # norms 0.5 and 10
    n = _col_norms(w)
    for rate in (1.0, 0.25):
        desired = rate * np.clip(n, 1.0, 2.0) + (1 - rate) * n
        out = np.asarray(constraints.MinMaxNorm(1.0, 2.0, rate)(w))
        np.testing.assert_allclose(out, w * desired / (1e-7 + n), rtol=1e-6)
    strict = np.asarray(constraints.min_max_norm(1.0, 2.0)(w))
    np.testing.assert_allclose(_col_norms(strict).ravel(), [1.0, 2.0], rtol=1e-6)


def test_non_neg_and_variable_input():
    out = np.asarray(constraints.NonNeg()(FakeVariable(W)))
    np.testing.assert_array_equal(out, np.maximum(W, 0))
    assert constraints.Constraint()(W) is W  # the base class is the identity


def test_constraint_get_and_config():
    assert constraints.get(None) is None
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    assert isinstance(constraints.get("unit_norm"), constraints.UnitNorm)
    assert isinstance(constraints.get(constraints.MinMaxNorm), constraints.MinMaxNorm)
    c = constraints.MaxNorm(3, axis=1)
    assert constraints.get(c) is c
    assert c.get_config() == {"max_value": 3, "axis": 1}
    again = constraints.get(constraints.serialize(c))
    assert type(again) is constraints.MaxNorm and again.get_config() == c.get_config()
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0,
                                                     "rate": 1.0, "axis": 0}
    with pytest.raises(ValueError) as err:
        constraints.get("maxnorm")
    assert str(err.value).startswith("Unknown constraint 'maxnorm'. Valid names: ")
    assert "max_norm" in str(err.value)


# ---- ops ----------------------------------------------------------------------------

A = np.arange(12, dtype="float32").reshape(3, 4) / 4 - 1
B = np.linspace(-1, 1, 8, dtype="float32").reshape(4, 2)
V_A, V_B = FakeVariable(A), FakeVariable(B)

OP_CASES = [
    ("matmul", (V_A, V_B), {}, A @ B),
    ("dot", (V_A, V_B), {}, A.dot(B)),
    ("add", (V_A, 1.0), {}, A + 1),
    ("subtract", (V_A, V_A), {}, A - A),
    ("multiply", (V_A, V_A), {}, A * A),
    ("divide", (V_A, 2.0), {}, A / 2),
    ("maximum", (V_A, 0.0), {}, np.maximum(A, 0)),
    ("minimum", (V_A, 0.0), {}, np.minimum(A, 0)),
    ("tanh", (V_A,), {}, np.tanh(A)),
    ("sigmoid", (V_A,), {}, 1 / (1 + np.exp(-A))),
    ("relu", (V_A,), {}, np.maximum(A, 0)),
    ("softmax", (V_A,), {}, np.exp(A) / np.exp(A).sum(-1, keepdims=True)),
    ("exp", (V_A,), {}, np.exp(A)),
    ("log", (FakeVariable(A + 2),), {}, np.log(A + 2)),
    ("sqrt", (FakeVariable(A + 2),), {}, np.sqrt(A + 2)),
    ("square", (V_A,), {}, A**2),
    ("abs", (V_A,), {}, np.abs(A)),
    ("concatenate", ([V_A, A],), {}, np.concatenate([A, A], axis=0)),  # Keras default axis=0
    ("concatenate", ([V_A, A],), {"axis": -1}, np.concatenate([A, A], axis=-1)),
    ("stack", ([V_A, A],), {"axis": 1}, np.stack([A, A], axis=1)),
    ("reshape", (V_A, (2, 6)), {}, A.reshape(2, 6)),
    ("reshape", (V_A,), {"newshape": (-1,)}, A.reshape(-1)),
    ("transpose", (V_A,), {}, A.T),
    ("expand_dims", (V_A, 1), {}, A[:, None, :]),
    ("squeeze", (FakeVariable(A[:1]),), {"axis": 0}, A[0]),
    ("sum", (V_A, 0, True), {}, A.sum(0, keepdims=True)),
    ("mean", (V_A,), {"axis": 1}, A.mean(1)),
    ("max", (V_A,), {"axis": 0}, A.max(0)),
    ("min", (V_A,), {}, A.min()),
    ("zeros_like", (V_A,), {}, np.zeros_like(A)),
    ("ones_like", (V_A,), {}, np.ones_like(A)),
    ("where", (A > 0, V_A, 0.0), {}, np.where(A > 0, A, 0)),
    ("clip", (V_A,), {"x_min": -0.5, "x_max": 0.5}, np.clip(A, -0.5, 0.5)),
    ("cast", (V_A, "int32"), {}, A.astype("int32")),
    ("convert_to_tensor", (V_A,), {}, A),
    ("take", (V_A, np.array([0, 2])), {"axis": 1}, np.take(A, [0, 2], axis=1)),
    ("argmax", (V_A,), {"axis": 1}, A.argmax(1)),
    ("norm", (V_A,), {}, np.linalg.norm(A)),
    ("norm", (V_A,), {"axis": 1}, np.linalg.norm(A, axis=1)),
    ("flip", (V_A,), {"axis": 0}, A[::-1]),
    ("einsum", ("ij,jk->ik", V_A, V_B), {}, A @ B),
]


@pytest.mark.parametrize("name, args, kwargs, expected", OP_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OP_CASES)])
def test_op_matches_numpy_with_variable_arguments(name, args, kwargs, expected):
    out = np.asarray(getattr(ops, name)(*args, **kwargs))
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_ops_creation_shape_split_one_hot():
    z = ops.zeros((2, 3))
    assert z.shape == (2, 3) and z.dtype == np.float32
    assert ops.ones((2,), dtype="int32").dtype == np.int32
    assert ops.shape(V_A) == (3, 4) and isinstance(ops.shape(V_A), tuple)
    parts = ops.split(V_A, 2, axis=1)
    assert len(parts) == 2 and all(p.shape == (3, 2) for p in parts)
    oh = np.asarray(ops.one_hot(np.array([0, 2, -1]), 3))
    np.testing.assert_array_equal(oh, [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    assert oh.dtype == np.float32
    assert ops.mean(np.array([1, 2], "int32")).dtype == np.float32  # Keras: ints -> float
    assert ops.divide(np.array([1], "int32"), np.array([2], "int32")).dtype == np.float32


def test_unwrap_leaves_arrays_alone():
    x = np.ones((2, 2), "float32")
    assert ops._unwrap(x) is x
    assert ops._unwrap(V_A) is V_A.value
