"""Helpers to read the Keras golden cases in ``tests/fixtures/keras_golden``.

The data format is documented in ``tests/fixtures/keras_golden/README.md``.
Reading cases needs only NumPy; ``build_object`` / ``build_model`` import
rnnkit lazily so that the NumPy-only tests can use this module before rnnkit
exists.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keras_golden"

__all__ = [
    "GOLDEN_DIR",
    "index",
    "list_cases",
    "load_case",
    "case_weights",
    "final_weights",
    "is_spec",
    "build_object",
    "build_model",
    "resolve_structure",
    "flatten_keys",
    "assert_structure_close",
]


@functools.lru_cache(maxsize=None)
def index():
    with open(GOLDEN_DIR / "index.json") as f:
        return json.load(f)


def _as_set(v):
    if v is None:
        return None
    if isinstance(v, str):
        return {v}
    return set(v)


def list_cases(kinds=None, categories=None, layers=None):
    """Names of the cases (index order) filtered by kind/category/layer."""
    kinds, categories, layers = _as_set(kinds), _as_set(categories), _as_set(layers)
    out = []
    for c in index()["cases"]:
        if kinds is not None and c["kind"] not in kinds:
            continue
        if categories is not None and c["category"] not in categories:
            continue
        if layers is not None and c.get("layer") not in layers:
            continue
        out.append(c["name"])
    return out


@functools.lru_cache(maxsize=None)
def _load(name):
    path = GOLDEN_DIR / f"{name}.npz"
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    cfg = json.loads(str(arrays["config"]))
    return cfg, arrays


def load_case(name):
    """Return ``(cfg dict, {npz key: array})``; callers get fresh copies."""
    cfg, arrays = _load(name)
    return json.loads(json.dumps(cfg)), {k: v.copy() for k, v in arrays.items()}


def case_weights(cfg, arrays, prefix="weights_"):
    return [arrays[f"{prefix}{i}"] for i in range(cfg["n_weights"])]


def final_weights(cfg, arrays):
    return case_weights(cfg, arrays, prefix="final_weights_")


# --------------------------------------------------------------------------
# object specs
# --------------------------------------------------------------------------

def is_spec(v):
    return isinstance(v, dict) and "__class__" in v and "__module__" in v


def _build_value(v, lib):
    if is_spec(v):
        return build_object(v, lib)
    if isinstance(v, list) and v and all(is_spec(e) for e in v):
        return [build_object(e, lib) for e in v]
    return v


def build_object(spec, lib=None):
    """Build ``getattr(getattr(lib, module), cls)(*args, **kwargs)``.

    Kwarg values (and args) that are specs or lists of specs are built first.
    ``lib`` defaults to the ``rnnkit`` package.
    """
    if lib is None:
        import rnnkit as lib  # noqa: PLC0415 - lazy on purpose
    if not is_spec(spec):
        raise TypeError(f"not an object spec: {spec!r}")
    module = getattr(lib, spec["__module__"])
    cls = getattr(module, spec["__class__"])
    args = [_build_value(a, lib) for a in spec.get("args", [])]
    kwargs = {k: _build_value(v, lib) for k, v in spec.get("kwargs", {}).items()}
    return cls(*args, **kwargs)


def build_model(model_cfg, lib=None):
    """Build the functional or sequential model described by ``model_cfg``."""
    if lib is None:
        import rnnkit as lib  # noqa: PLC0415
    inp_cfg = model_cfg["input"]
    shape = tuple(inp_cfg["shape"])
    dtype = inp_cfg.get("dtype", "float32")
    layers = [build_object(s, lib) for s in model_cfg["layers"]]
    mtype = model_cfg["model_type"]
    if mtype == "functional":
        inp = lib.layers.Input(shape=shape, dtype=dtype)
        out = inp
        for layer in layers:
            out = layer(out)
        return lib.models.Model(inp, out)
    if mtype == "sequential":
        return lib.models.Sequential([lib.layers.Input(shape=shape, dtype=dtype), *layers])
    raise ValueError(f"unknown model_type {mtype!r}")


# --------------------------------------------------------------------------
# structures of npz keys
# --------------------------------------------------------------------------

def resolve_structure(structure, arrays):
    """Replace every npz key in a (nested) list structure by its array.

    ``None`` stays ``None``; a single key gives a single array; lists give
    lists with the same nesting.
    """
    if structure is None:
        return None
    if isinstance(structure, str):
        return arrays[structure]
    if isinstance(structure, (list, tuple)):
        return [resolve_structure(s, arrays) for s in structure]
    raise TypeError(f"bad structure element {structure!r}")


def flatten_keys(structure):
    """Depth-first list of the npz keys in a structure."""
    if structure is None:
        return []
    if isinstance(structure, str):
        return [structure]
    out = []
    for s in structure:
        out.extend(flatten_keys(s))
    return out


# --------------------------------------------------------------------------
# comparing a returned (nested) structure with the expected one
# --------------------------------------------------------------------------

def _is_seq(v):
    return isinstance(v, (list, tuple))


def _describe(v):
    if _is_seq(v):
        return f"{type(v).__name__} of length {len(v)}"
    shape = getattr(v, "shape", None)
    return f"{type(v).__name__}" + (f" with shape {tuple(shape)}" if shape is not None else "")


def assert_structure_close(actual, expected, *, atol=1e-5, rtol=0.0, path="outputs",
                           check_dtype=False):
    """Walk ``expected`` (arrays nested in lists) and ``actual`` together.

    A list in ``expected`` must be matched by a list or tuple of the same
    length in ``actual``; an array must be matched by one array (anything
    ``np.asarray`` accepts that is not a list/tuple/dict) of the same shape
    whose values are within ``atol + rtol * |expected|``. Failures name the
    path, e.g. ``calls[0].outputs[1][0]``.
    """
    if _is_seq(expected):
        if not _is_seq(actual):
            raise AssertionError(
                f"{path}: expected a list/tuple of {len(expected)} entries, got {_describe(actual)}")
        if len(actual) != len(expected):
            raise AssertionError(
                f"{path}: expected {len(expected)} entries, got {len(actual)} "
                f"({[_describe(a) for a in actual]})")
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_structure_close(a, e, atol=atol, rtol=rtol, path=f"{path}[{i}]",
                                   check_dtype=check_dtype)
        return
    if _is_seq(actual) or isinstance(actual, dict) or actual is None:
        raise AssertionError(f"{path}: expected a single array of shape {expected.shape}, "
                             f"got {_describe(actual)}")
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{path}: shape {a.shape} != expected {e.shape}")
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(f"{path}: dtype {a.dtype} != expected {e.dtype}")
    if e.size == 0:
        return
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    if not np.all(np.isfinite(a64)):
        raise AssertionError(f"{path}: non-finite values in output")
    err = np.abs(a64 - e64)
    tol = atol + rtol * np.abs(e64)
    bad = err > tol
    if bad.any():
        idx = np.unravel_index(int(np.argmax(err - tol)), err.shape)
        raise AssertionError(
            f"{path}: {int(bad.sum())}/{err.size} values out of tolerance "
            f"(atol={atol:g}, rtol={rtol:g}); max abs err {err.max():.3e}; "
            f"worst at index {tuple(int(i) for i in idx)}: got {a64[idx]:.7g}, "
            f"expected {e64[idx]:.7g}")
