"""rnnkit.ops covers keras.ops 3.15.1: every name, every signature, and Keras's numbers on JAX.

The names, signatures and outputs were recorded from Keras 3.15.1 (JAX backend) by
tools/make_ops_fixtures.py into tests/fixtures/keras_ops/; Keras is not needed here.
"""

from __future__ import annotations

import inspect
import json

import jax
import numpy as np
import pytest

import rnnkit.ops as ops
from keras_ops_cases import FIXTURE_DIR, callables, decode, programs
from rnnkit.variables import Variable

DOC = json.loads((FIXTURE_DIR / "keras_ops.json").read_text())
ARRAYS = dict(np.load(FIXTURE_DIR / "keras_ops.npz"))
SUBMODULES = ("image", "linalg", "nn", "numpy")

# Names that exist and raise NotImplementedError with a reason (nothing else is missing).
NOT_APPLICABLE = {
    "": {"adaptive_average_pool", "adaptive_max_pool", "conv_transpose", "fold", "unfold",
         "istft"},
    "image": {"affine_transform", "crop_images", "elastic_transform", "extract_patches",
              "extract_patches_3d", "gaussian_blur", "hsv_to_rgb", "map_coordinates",
              "pad_images", "perspective_transform", "rgb_to_hsv", "scale_and_translate",
              "sobel_edges", "ssim"},
}
# Documented tolerance exceptions (everything else: rtol=1e-5, atol=1e-6). keras.ops has no
# random ops (those are keras.random), so no case is exempt for randomness.
TOLERANCE = {
    # iterative / factorizing linear algebra: same LAPACK calls, but a different order of
    # float32 operations in the wrappers
    "eig": 1e-4, "lstsq": 1e-4, "pinv": 1e-4, "cholesky_inverse": 1e-4, "matrix_rank": 0,
    "ctc_loss": 1e-4, "dot_product_attention": 1e-5,
}


def _module(name):
    return getattr(ops, name) if name else ops


def test_every_keras_ops_name_exists():
    assert DOC["keras_version"] == "3.15.1"
    missing = [n for n in DOC["names"] if not callable(getattr(ops, n, None))]
    missing += [f"{m}.{n}" for m in SUBMODULES for n in DOC["submodules"][m]
                if not callable(getattr(getattr(ops, m), n, None))]
    assert missing == []
    assert len(DOC["names"]) + len(SUBMODULES) == 341


def test_signatures_have_keras_parameter_names():
    wrong = {}
    for name, params in DOC["names"].items():
        ours = list(inspect.signature(getattr(ops, name)).parameters)
        if ours != params:
            wrong[name] = (ours, params)
    for name, params in DOC["image"].items():
        ours = list(inspect.signature(getattr(ops.image, name)).parameters)
        if ours != params:
            wrong[f"image.{name}"] = (ours, params)
    assert wrong == {}


def test_not_applicable_list_is_exact_and_errors_say_why():
    for module, names in NOT_APPLICABLE.items():
        mod = _module(module)
        found = {n for n in dir(mod)
                 if isinstance(getattr(getattr(mod, n), "not_applicable", None), str)}
        assert found == names, module
        for n in names:
            with pytest.raises(NotImplementedError, match=rf"rnnkit.ops.{n} is not available"
                                                          r" in rnnkit: .+"):
                getattr(mod, n)(None)


def test_every_applicable_op_has_a_recorded_case():
    covered = {c["op"] for c in DOC["cases"] if "op" in c}
    covered |= {"custom_gradient", "stop_gradient", "vectorize"}  # via programs
    uncovered = sorted(set(DOC["names"]) - covered - NOT_APPLICABLE[""])
    uncovered += [f"image.{n}" for n in sorted(set(DOC["image"]) - covered
                                               - NOT_APPLICABLE["image"])]
    assert uncovered == []


def _run(case, wrap_variables=False):
    fns = callables(ops)
    args = [decode(a, ARRAYS, fns) for a in case["args"]]
    kwargs = {k: decode(v, ARRAYS, fns) for k, v in case["kwargs"].items()}
    if wrap_variables:
        args = [Variable(a, name=f"v{i}") if isinstance(a, np.ndarray) else a
                for i, a in enumerate(args)]
    if "program" in case:
        return programs(ops, jax)[case["program"]](*args)
    return getattr(_module(case["module"]), case["op"])(*args, **kwargs)


def _compare(case, out):
    leaves, tree = jax.tree_util.tree_flatten(out)
    assert str(tree) == case["tree"]
    tol = TOLERANCE.get(case.get("op") or case.get("program"), 1e-5)
    for got, want in zip(leaves, case["leaves"]):
        if isinstance(want, dict):
            want = ARRAYS[want["$a"]]
            got = np.asarray(got)
            assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
            if want.dtype.kind in "fc":
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol / 10)
            else:
                np.testing.assert_array_equal(got, want)
        else:
            assert got == want and type(got) is type(want)


# Keras 3.15.1's JAX sparsemax computes its threshold from the sum of all cumulative sums in
# the support instead of the one at the support's end, so its outputs do not sum to 1 (often
# all zeros). rnnkit follows the definition (Martins & Astudillo, 2016), checked below
# against a NumPy reference instead.
KERAS_BUGS = {"sparsemax"}
CASES = [c for c in DOC["cases"] if c.get("op") not in NOT_APPLICABLE[c.get("module", "")]
         and c.get("op") not in KERAS_BUGS]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_numbers_match_keras(case):
    _compare(case, _run(case))


FIRST_CASES = [c for c in CASES if c["id"].endswith("-0") and c["args"]
               and isinstance(c["args"][0], dict) and "$a" in c["args"][0]]


@pytest.mark.parametrize("case", FIRST_CASES, ids=[c["id"] for c in FIRST_CASES])
def test_variables_are_accepted_as_arrays(case):
    _compare(case, _run(case, wrap_variables=True))


def _numpy_sparsemax(z):
    z_sorted = np.sort(z)[::-1]
    k = np.arange(1, z.size + 1)
    cum = np.cumsum(z_sorted)
    k_max = k[1 + k * z_sorted > cum][-1]
    return np.maximum(z - (cum[k_max - 1] - 1) / k_max, 0)


def test_sparsemax_follows_its_definition():
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32") * 2
    out = np.asarray(ops.sparsemax(x))
    want = np.stack([_numpy_sparsemax(row.astype("float64")) for row in x])
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(ops.sparsemax(x.T, axis=0)), want.T, rtol=1e-5,
                               atol=1e-6)
