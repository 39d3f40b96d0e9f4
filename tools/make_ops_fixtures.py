"""Records `keras.ops` on JAX into tests/fixtures/keras_ops/ (needs the `bench` extra).

    KERAS_BACKEND=jax python3 tools/make_ops_fixtures.py

Writes `keras_ops.json` (Keras's version, every public name of `keras.ops` with its parameter
names, the names of its submodules, and one entry per case: op, arguments, output structure)
and `keras_ops.npz` (the case's input and output arrays). Inputs are small and seeded. Most
cases come from an op's signature (one array for `f(x)`, two broadcastable arrays for
`f(x1, x2)`, an axis for reductions); the rest are listed in `EXPLICIT`. A case Keras rejects
is skipped (Keras's errors are not recorded). `tests/ops/test_keras_ops_coverage.py` replays
every case on `rnnkit.ops`.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "ops"))

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_ops_cases import FIXTURE_DIR, FnRef, callables, encode, programs  # noqa: E402

SUBMODULES = ("image", "linalg", "nn", "numpy")
rng = np.random.RandomState(1234)


def F(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype("float32")


def P(*shape):
    return F(*shape, lo=0.1, hi=0.9)


def I(*shape, lo=0, hi=5, dtype="int32"):  # noqa: E743
    return rng.randint(lo, hi, shape).astype(dtype)


def B(*shape):
    return rng.rand(*shape) > 0.5


def SPD(n=3, batch=()):
    a = F(*batch, n, n)
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype("float32")


def with_nans(x):
    x = x.copy()
    x.flat[::3] = np.nan
    return x


fn = FnRef


def explicit_cases():
    """(name, args, kwargs) beyond the signature-driven ones."""
    x34 = F(3, 4)
    c = []
    add = lambda name, *args, **kw: c.append((name, args, kw))  # noqa: E731
    # ---- numpy: creation
    for a in [(5,), (1, 7, 2), (0.5, 3.0, 0.5)]:
        add("arange", *a)
    add("arange", 4, dtype="float32")
    add("array", [[1, 2], [3, 4]])
    add("array", F(2, 2), dtype="float16")
    for name in ("zeros", "ones", "empty"):
        add(name, (2, 3))
        add(name, (2,), dtype="int32")
    add("full", (2, 3), 1.5)
    add("full", (2,), 3)
    add("full", (2,), 3, dtype="int32")
    for name in ("zeros_like", "ones_like", "empty_like", "copy"):
        add(name, I(2, 3), dtype="float32")
    add("full_like", x34, 2.0)
    add("full_like", I(2, 2), 7, dtype="float32")
    add("eye", 3)
    add("eye", 3, 4, k=1, dtype="int32")
    add("identity", 3)
    add("tri", 3)
    add("tri", 3, 4, -1)
    for name in ("linspace", "logspace", "geomspace"):
        add(name, 1.0, 2.0, 5)
        add(name, 1.0, 2.0, 4, endpoint=False)
    add("linspace", 0.0, 1.0, 5, retstep=True)
    add("linspace", P(2), P(2) + 1, 3, axis=1)
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        add(name, 6)
    add("kaiser", 6, 2.5)
    add("vander", F(4))
    add("vander", F(4), 3, True)
    add("meshgrid", F(3), F(2))
    add("meshgrid", F(3), F(2), indexing="ij")
    # ---- numpy: shapes, joins, indexing
    add("append", x34, F(2, 4), axis=0)
    add("append", F(3), F(2))
    add("array_split", F(7), 3)
    add("broadcast_to", F(4), (3, 4))
    add("concatenate", [x34, F(2, 4)])
    add("concatenate", (x34, F(3, 2)), axis=1)
    for name in ("dsplit", "hsplit", "vsplit"):
        add(name, F(4, 4, 4), 2)
    for name in ("dstack", "hstack", "vstack"):
        add(name, [F(2, 3), F(2, 3)])
    add("expand_dims", x34, 1)
    add("expand_dims", x34, (0, 3))
    add("flip", x34, 1)
    add("moveaxis", F(2, 3, 4), 0, -1)
    add("moveaxis", F(2, 3, 4), (0, 1), (2, 0))
    add("reshape", x34, (2, 6))
    add("reshape", x34, (-1,))
    add("roll", x34, 1)
    add("roll", x34, (1, -1), (0, 1))
    add("rot90", x34)
    add("rot90", x34, 3, (1, 0))
    add("squeeze", F(1, 3, 1), 0)
    add("stack", [F(3), F(3)])
    add("stack", [F(3), F(3)], 1)
    add("swapaxes", F(2, 3, 4), 0, 2)
    add("tile", F(2, 3), (2, 1))
    add("transpose", F(2, 3, 4), (1, 0, 2))
    add("repeat", x34, 2)
    add("repeat", x34, [1, 2, 0], axis=0)
    add("pad", x34, ((1, 0), (0, 2)))
    add("pad", x34, 1, mode="reflect")
    add("pad", x34, ((1, 1), (2, 2)), constant_values=3.0)
    add("pad", x34, ((1, 1), (2, 2)), mode="symmetric")
    add("split", F(6, 2), 3)
    add("split", F(6, 2), [1, 4])
    add("split", x34, 2, axis=1)
    add("take", x34, I(2, lo=0, hi=12))
    add("take", x34, I(2, 2, lo=0, hi=3), axis=0)
    add("take_along_axis", x34, I(3, 2, lo=0, hi=4), axis=1)
    add("get_item", x34, 1)
    add("get_item", x34, (slice(0, 2), 1))
    add("get_item", x34, I(2, lo=0, hi=3))
    add("where", B(3, 4), x34, F(3, 4))
    add("where", B(3, 4), x34, 0.0)
    add("where", B(3, 4))
    add("select", [B(4), B(4)], [F(4), F(4)])
    add("select", [B(4), B(4)], [F(4), F(4)], 1.5)
    add("unravel_index", I(4, lo=0, hi=12), (3, 4))
    add("view", F(2, 3), "int32")
    add("view", I(2, 4, dtype="int8"), "int16")
    add("searchsorted", np.sort(F(6)), F(3))
    add("searchsorted", np.sort(F(6)), F(3), side="right")
    add("digitize", F(6), np.sort(F(3)))
    add("isin", I(5), I(3))
    add("isin", I(5), I(3), invert=True)
    add("unique", np.array([3, 1, 3, 2, 1], "int32"))
    add("unique", np.array([3, 1, 3, 2, 1], "int32"), return_counts=True, return_index=True,
        return_inverse=True)
    add("unique", np.array([3, 1, 3, 2], "int32"), size=5, fill_value=-1)
    add("bincount", I(8))
    add("bincount", I(8), weights=P(8), minlength=7)
    add("histogram", F(20))
    add("histogram", F(20), bins=4, range=(-0.5, 0.5))
    add("diag", F(4))
    add("diag", F(3, 3), 1)
    add("diagflat", F(2, 2), -1)
    add("diagonal", F(3, 3))
    add("diagonal", F(2, 3, 3), 1, 1, 2)
    add("tril", x34, 1)
    add("triu", x34, -1)
    add("trace", F(3, 3))
    add("trace", F(2, 3, 3), 0, 1, 2)
    add("nonzero", I(3, 4, lo=0, hi=2))
    # ---- numpy: math with arguments
    add("matmul", F(2, 3, 4), F(4, 5))
    add("dot", F(2, 3), F(3, 4))
    add("vdot", F(4), F(4))
    add("inner", F(3), F(3))
    add("outer", F(3), F(2))
    add("kron", F(2, 2), F(2, 3))
    add("cross", F(2, 3), F(2, 3))
    add("cross", F(3, 2), F(3, 2), axis=0)
    add("correlate", F(5), F(3))
    add("correlate", F(5), F(3), mode="full")
    add("tensordot", F(2, 3, 4), F(3, 4, 2))
    add("tensordot", F(2, 3), F(3, 4), 1)
    add("tensordot", F(2, 3), F(2, 4), ((0,), (0,)))
    add("einsum", "ij,jk->ik", F(2, 3), F(3, 4))
    add("einsum", "bij->bji", F(2, 3, 4))
    add("clip", x34, -0.5, 0.5)
    add("clip", I(3, 4), 1, 3)
    add("round", F(5) * 100, 1)
    add("nan_to_num", np.array([np.nan, np.inf, -np.inf, 1.0], "float32"))
    add("nan_to_num", np.array([np.nan, np.inf, -np.inf, 1.0], "float32"), 1.0, 9.0, -9.0)
    add("allclose", x34, x34 + 1e-6)
    add("isclose", x34, x34 + np.float32(1e-3), atol=1e-2)
    add("isclose", np.array([np.nan], "float32"), np.array([np.nan], "float32"), equal_nan=True)
    add("divide_no_nan", x34, np.where(B(3, 4), F(3, 4), 0).astype("float32"))
    add("diff", F(6))
    add("diff", x34, 2, 0)
    add("trapezoid", F(5))
    add("trapezoid", F(5), F(5))
    add("trapezoid", x34, dx=0.5, axis=0)
    for name in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
        add(name, with_nans(x34) if name.startswith("nan") else x34, 1)
        add(name, I(3, 4), 0, "float32")
    add("count_nonzero", I(3, 4), 1)
    add("argsort", x34, 0)
    add("sort", x34, None)
    add("argpartition", F(6), 2)
    add("argpartition", x34, 1, axis=0)
    add("average", x34, 1, P(4))
    add("average", x34, None, P(3, 4))
    add("ptp", x34, 1)
    for name in ("percentile", "nanpercentile"):
        data = with_nans(x34) if name.startswith("nan") else x34
        add(name, data, 30.0)
        add(name, data, np.array([10.0, 90.0], "float32"), axis=1, keepdims=True)
        add(name, data, 50.0, axis=0, method="nearest")
    for name in ("quantile", "nanquantile"):
        data = with_nans(x34) if name.startswith("nan") else x34
        add(name, data, 0.3)
        add(name, data, np.array([0.1, 0.9], "float32"), axis=1, method="midpoint")
    add("max", x34, initial=0.5)
    add("min", x34, 1, initial=-0.5)
    # ---- nn
    add("gelu", x34, False)
    add("leaky_relu", x34, 0.1)
    add("elu", x34, 0.5)
    add("celu", x34, 0.5)
    add("squareplus", x34, 1.0)
    add("hard_shrink", x34, 0.3)
    add("soft_shrink", x34, 0.3)
    add("threshold", x34, 0.2, -1.0)
    add("glu", F(3, 4), 0)
    add("softmax", F(2, 3, 4), 1)
    add("log_softmax", F(2, 3, 4), (1, 2))
    add("sparsemax", F(3, 5) * 3)
    add("normalize", x34, 0, 1)
    add("one_hot", np.array([0, 2, -1, 1], "int32"), 3)
    add("one_hot", I(2, 3, lo=0, hi=4), 4, axis=0, dtype="int32")
    add("multi_hot", I(3, 2, lo=0, hi=4), 4)
    add("multi_hot", I(3, 2, lo=0, hi=4), 4, dtype="int32")
    add("moments", F(3, 4, 2), (0, 1))
    add("moments", F(3, 4), 1, keepdims=True)
    add("batch_normalization", F(3, 4), F(4), P(4), -1, F(4), P(4))
    add("batch_normalization", F(3, 4), F(4), P(4), 1, epsilon=1e-3)
    add("layer_normalization", F(3, 4), P(4), F(4))
    add("layer_normalization", F(3, 4), epsilon=1e-3)
    add("rms_normalization", F(3, 4), P(4), epsilon=1e-5)
    t = np.eye(4, dtype="float32")[I(3, lo=0, hi=4)]
    add("binary_crossentropy", (P(3, 4) > 0.5).astype("float32"), P(3, 4))
    add("binary_crossentropy", (P(3, 4) > 0.5).astype("float32"), F(3, 4) * 3, True)
    add("categorical_crossentropy", t, P(3, 4))
    add("categorical_crossentropy", t, F(3, 4) * 3, True)
    add("sparse_categorical_crossentropy", I(3, lo=0, hi=4), P(3, 4))
    add("sparse_categorical_crossentropy", I(3, lo=0, hi=4), F(3, 4) * 3, True)
    add("psnr", P(2, 4, 4, 1), P(2, 4, 4, 1), 1.0)
    add("polar", P(3), F(3))
    for pad in ("valid", "same"):
        add("conv", F(2, 7, 3), F(3, 3, 4), 1, pad)
        add("conv", F(2, 5, 5, 2), F(3, 3, 2, 4), 2, pad)
        add("depthwise_conv", F(2, 7, 3), F(3, 3, 2), 1, pad)
        add("separable_conv", F(2, 6, 6, 2), F(3, 3, 2, 2), F(1, 1, 4, 3), 1, pad)
        add("max_pool", F(2, 7, 3), 2, 2, pad)  # Keras 3.15.1 fails on strides=None in 1-D
        add("max_pool", F(2, 5, 5, 3), (2, 2), (1, 1), pad)
        add("average_pool", F(2, 5, 5, 3), (2, 2), (1, 1), pad)
        add("conv_transpose", F(2, 5, 3), F(3, 4, 3), 2, pad)
    add("conv", F(2, 9, 3), F(3, 3, 4), 1, "valid", None, 2)
    add("conv", F(2, 3, 7), F(3, 3, 4), 1, "same", "channels_first")
    add("average_pool", F(2, 3, 6), 2, None, "valid", "channels_first")
    add("conv_transpose", F(2, 4, 4, 3), F(3, 3, 2, 3), 2, "same", 1)
    add("adaptive_average_pool", F(2, 8, 3), 4)
    add("adaptive_max_pool", F(2, 6, 6, 2), (3, 2))
    add("depth_to_space", F(2, 2, 2, 8), 2)
    add("space_to_depth", F(2, 4, 4, 2), 2)
    q = F(2, 5, 2, 4)
    add("dot_product_attention", q, F(2, 5, 2, 4), F(2, 5, 2, 4))
    add("dot_product_attention", q, F(2, 6, 2, 4), F(2, 6, 2, 4), None, B(2, 2, 5, 6), 0.5)
    add("dot_product_attention", q, q, q, F(2, 2, 5, 5), is_causal=True)
    add("ctc_loss", I(2, 3, lo=1, hi=4), F(2, 6, 5), np.array([3, 2], "int32"),
        np.array([6, 5], "int32"))
    add("ctc_decode", F(2, 6, 5), np.array([6, 4], "int32"))
    add("ctc_decode", I(2, 7, 4, lo=0, hi=3).astype("float32"), np.array([7, 5], "int32"),
        merge_repeated=False)
    add("ctc_decode", F(3, 5, 4), np.array([5, 1, 3], "int32"), mask_index=None)
    add("unfold", F(2, 3, 5, 5), 2)
    add("unfold", F(1, 2, 6, 6), (3, 2), 1, 1, 2)
    add("fold", F(2, 12, 16), (5, 5), 2)
    # ---- linalg
    spd = SPD()
    bspd = SPD(3, (2,))
    for name in ("cholesky", "det", "inv", "slogdet", "eigh", "logdet", "lu_factor", "eig",
                 "cholesky_inverse"):
        add(name, spd)
        add(name, bspd)
    add("cholesky", spd, True)
    add("cholesky_inverse", np.linalg.cholesky(spd).astype("float32"))
    add("cholesky_inverse", np.linalg.cholesky(spd).T.astype("float32"), True)
    add("solve", spd, F(3, 2))
    add("solve_triangular", np.tril(spd), F(3, 2), True)
    add("solve_triangular", np.triu(spd), F(3, 2))
    add("lstsq", F(5, 3), F(5, 2))
    add("matrix_rank", F(4, 3))
    add("matrix_rank", np.ones((3, 3), "float32"), 0.1)
    add("pinv", F(4, 3))
    add("qr", F(4, 3))
    add("qr", F(4, 3), "complete")
    add("svd", F(4, 3))
    add("svd", F(4, 3), False)
    add("svd", F(4, 3), compute_uv=False)
    for ord_, axis in [(None, None), (1, None), ("fro", None), (2, 1), (np.inf, 0),
                       ("nuc", None), (-1, None)]:
        add("norm", x34, ord_, axis)
    add("norm", x34, None, 1, True)
    add("jvp", fn("jvp_fn"), (x34,), (P(3, 4),))
    add("jvp", fn("jvp_aux"), (x34,), (P(3, 4),), True)
    # ---- core and math
    add("cast", x34 * 5, "int32")
    add("cast", I(3), "float16")
    add("saturate_cast", F(4) * 500, "int8")
    add("saturate_cast", np.array([-1.5, 300.0, 2.5], "float32"), "uint8")
    add("convert_to_tensor", [[1, 2], [3, 4]])
    add("convert_to_tensor", 1.5)
    add("convert_to_tensor", x34, "float16")
    add("scan", fn("scan_step"), F(3), F(5, 3))
    add("scan", fn("scan_step"), F(3), F(5, 3), reverse=True, unroll=2)
    add("scan", fn("scan_noxs"), F(2), None, 4)
    add("associative_scan", fn("assoc_add"), F(6))
    add("associative_scan", fn("assoc_add"), F(3, 4), True, 1)
    add("associative_scan", fn("assoc_affine"), (P(5), F(5)))
    add("cond", np.array(True), fn("ones_2"), fn("zeros_2"))
    add("cond", False, fn("ones_2"), fn("zeros_2"))
    add("fori_loop", 0, 4, fn("fori_body"), F(3))
    add("while_loop", fn("while_cond1"), fn("while_body1"), P(3))
    add("while_loop", fn("while_cond2"), fn("while_body2"), (P(3), P(2)))
    add("while_loop", fn("while_cond2"), fn("while_body2"), (P(3), P(2)), 2)
    add("map", fn("map_fn"), F(4, 3))
    add("switch", 1, [fn("plus1"), fn("times2")], F(3))
    add("switch", np.array(0, "int32"), [fn("plus1"), fn("times2")], F(3))
    add("vectorized_map", fn("vmap_fn"), F(4, 3))
    add("slice", x34, (1, 0), (2, 3))
    add("slice_update", x34, (1, 1), F(2, 2))
    add("scatter", np.array([[0, 1], [2, 3], [0, 1]], "int32"), F(3), (3, 4))
    add("scatter_update", x34, np.array([[0, 1], [2, 3]], "int32"), F(2))
    add("scatter_update", x34, np.array([[0, 1], [0, 1]], "int32"), F(2), "add")
    ids = np.array([0, 0, 1, 2, 2, 2], "int32")
    for name in ("segment_sum", "segment_max", "segment_min", "segment_prod"):
        add(name, F(6, 2), ids)
        add(name, F(6), ids, 4, True)
    add("top_k", F(3, 6), 2)
    add("top_k", F(6), 3, False)
    add("in_top_k", I(3, lo=0, hi=6), F(3, 6), 2)
    add("logsumexp", F(2, 3, 4), (1, 2), True)
    add("extract_sequences", F(2, 10), 4, 2)
    add("unstack", x34)
    add("unstack", x34, 4, 1)
    add("cdist", F(3, 2), F(4, 2))
    add("cdist", F(2, 3, 2), F(2, 4, 2))
    add("fft", (F(4, 8), F(4, 8)))
    add("fft2", (F(2, 4, 8), F(2, 4, 8)))
    add("ifft2", (F(2, 4, 8), F(2, 4, 8)))
    add("rfft", F(3, 8))
    add("rfft", F(3, 8), 6)
    add("irfft", (F(3, 5), F(3, 5)))
    add("irfft", (F(3, 5), F(3, 5)), 6)
    add("stft", F(2, 32), 8, 4, 8)
    add("stft", F(32), 8, 4, 16, window="hamming", center=False)
    add("stft", F(3, 20), 6, 3, 8, window=None)
    add("stft", F(20), 5, 2, 5, window=P(5), center=False)
    add("istft", (F(2, 9, 5), F(2, 9, 5)), 8, 4, 8)
    add("view_as_complex", F(3, 2))
    add("view_as_real", (F(3) + 1j * F(3)).astype("complex64"))
    add("rearrange", F(2, 3, 4), "b t d -> t b d")
    add("rearrange", F(2, 3, 4), "b t d -> b (t d)")
    add("rearrange", F(2, 6), "b (t d) -> b t d", t=3)
    # ---- image
    img = P(2, 4, 6, 3)
    add("rgb_to_grayscale", img)
    add("resize", img, (8, 3))
    add("resize", img, (2, 12), "nearest")
    add("rgb_to_hsv", img)
    add("hsv_to_rgb", img)
    return c


def generic_cases(name, sig):
    """Cases read off a signature: f(x), f(x1, x2), reductions with an axis."""
    params = list(sig.parameters.values())
    required = [p for p in params if p.default is inspect.Parameter.empty
                and p.kind is p.POSITIONAL_OR_KEYWORD]
    names = [p.name for p in params]
    out = []
    if len(required) == 1:
        for x in (P(3, 4), F(3, 4), I(3, 4, lo=1, hi=5)):
            out.append((name, (x,), {}))
        if name.startswith("nan"):
            out.append((name, (with_nans(F(3, 4)),), {}))
        if "axis" in names and "keepdims" in names:
            out.append((name, (F(3, 4),), {"axis": 1, "keepdims": True}))
            out.append((name, (I(3, 4, lo=1, hi=5),), {"axis": 0}))
    elif len(required) == 2:
        for a, b in ((F(3, 4), F(4)), (P(3, 4), P(3, 4)), (I(3, 4, lo=1, hi=6), I(4, lo=1, hi=4))):
            out.append((name, (a, b), {}))
    return out


def record(name, fn_, args, kwargs, arrays, prefix):
    out = fn_(*args, **kwargs)
    leaves, tree = jax.tree_util.tree_flatten(out)
    enc = []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, (jax.Array, np.ndarray, np.generic)):
            key = f"{prefix}/out{i}"
            arrays[key] = np.asarray(leaf)
            enc.append({"$a": key})
        elif isinstance(leaf, (bool, int, float, str)) or leaf is None:
            enc.append(leaf)
        else:
            raise TypeError(f"{name} returned a {type(leaf).__name__}, not an array")
    return {"tree": str(tree), "leaves": enc}


def main():
    ops = keras.ops
    fns = callables(ops)
    names = sorted(n for n in dir(ops) if not n.startswith("_"))
    table = {}
    for n in names:
        obj = getattr(ops, n)
        if n in SUBMODULES:
            continue
        table[n] = [p for p in inspect.signature(obj).parameters]
    sub = {m: sorted(n for n in dir(getattr(ops, m)) if not n.startswith("_")) for m in SUBMODULES}
    image_params = {n: list(inspect.signature(getattr(ops.image, n)).parameters)
                    for n in sub["image"]}
    cases = [(n, a, k) for n in table for (n, a, k) in
             generic_cases(n, inspect.signature(getattr(ops, n)))]
    cases += explicit_cases()
    arrays, recorded, skipped = {}, [], []
    counts = {}
    for name, args, kwargs in cases:
        target = getattr(ops.image, name) if name in image_params else getattr(ops, name)
        real_args = [fns[a.name] if isinstance(a, FnRef) else a for a in args]
        real_args = [tuple(fns[v.name] if isinstance(v, FnRef) else v for v in a)
                     if isinstance(a, tuple) else a for a in real_args]
        real_args = [[fns[v.name] if isinstance(v, FnRef) else v for v in a]
                     if isinstance(a, list) else a for a in real_args]
        idx = counts.get(name, 0)
        prefix = f"{name}-{idx}"
        scratch = {}
        try:
            result = record(name, target, real_args, kwargs, scratch, prefix)
        except Exception as e:  # a case Keras rejects is not a case
            skipped.append(f"{prefix}: {type(e).__name__}: {str(e)[:100]}")
            continue
        counts[name] = idx + 1
        entry = {"id": prefix, "op": name, "module": "image" if name in image_params else "",
                 "args": encode(tuple(args), scratch, prefix)["$t"],
                 "kwargs": encode(kwargs, scratch, prefix), **result}
        arrays.update(scratch)
        recorded.append(entry)
    prog = programs(ops, jax)
    prog_inputs = {"custom_gradient": (F(3, 4),), "stop_gradient": (F(3, 4),),
                   "vectorize": (F(3, 4), F(4)), "grad_through_scan": (F(5, 3),)}
    for name, inputs in prog_inputs.items():
        prefix = f"program:{name}"
        scratch = {}
        result = record(name, prog[name], inputs, {}, scratch, prefix)
        recorded.append({"id": prefix, "program": name,
                         "args": encode(inputs, scratch, prefix)["$t"], "kwargs": {}, **result})
        arrays.update(scratch)
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    doc = {"keras_version": keras.__version__, "jax_version": jax.__version__,
           "names": table, "submodules": sub, "image": image_params, "cases": recorded}
    (FIXTURE_DIR / "keras_ops.json").write_text(json.dumps(doc, indent=0, sort_keys=True))
    np.savez_compressed(FIXTURE_DIR / "keras_ops.npz", **arrays)
    print(f"{len(recorded)} cases of {len(counts)} ops recorded; {len(skipped)} skipped")
    missing = sorted(set(table) - set(counts) - set(prog_inputs))
    print("ops without a case:", " ".join(missing))
    if "-v" in sys.argv:
        print("\n".join(skipped))


if __name__ == "__main__":
    main()
