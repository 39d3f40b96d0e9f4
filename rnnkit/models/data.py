"""Turning user data (arrays, lists of arrays) into checked batches."""

from __future__ import annotations

import numpy as np

from rnnkit.layers.validation import check_numeric, is_int


def _as_array(v, what):
    if v is None:
        return None
    if isinstance(v, (list, tuple)) and v and hasattr(v[0], "shape") and np.ndim(v[0]) > 0 \
            and len({np.shape(a)[0] for a in v}) == 1 and what == "x-list":
        return [np.asarray(a) for a in v]
    try:
        return np.asarray(v)
    except ValueError as err:
        raise ValueError(f"Could not convert {what} to an array: {err}. Pass a NumPy array "
                         "(or a list of arrays, one per model input).") from None


def to_host(v):
    if isinstance(v, dict):
        return {k: np.asarray(a) for k, a in v.items()}
    if isinstance(v, (list, tuple)):
        return [np.asarray(a) for a in v]
    return None if v is None else np.asarray(v)


def _length(v):
    if isinstance(v, dict):
        return len(next(iter(v.values())))
    return len(v[0]) if isinstance(v, list) else len(v)


def check_batch_size(value, arg="batch_size", default=32) -> int:
    """The batch size to use: `default` for None, else a positive integer (NumPy ones too)."""
    if value is None:
        return default
    if not is_int(value) or value <= 0:
        raise ValueError(f"{arg} must be a positive integer (samples per step); received "
                         f"{arg}={value!r}. Leave it as None for the default of {default}.")
    return int(value)


def check_epochs(epochs, initial_epoch) -> tuple[int, int]:
    for arg, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if not is_int(value) or value < 0:
            raise ValueError(f"{arg} must be a non-negative integer; received {arg}={value!r}.")
    return int(epochs), int(initial_epoch)


def check_fit_data(x, y, sample_weight, where, loss=None):
    """Arrays for x (an array or a list of arrays), y and sample_weight, same length.

    `loss`: the compiled loss when targets are required (then `y=None` is an error).
    """
    if x is None:
        raise ValueError(f"{where}() needs input data `x`.")
    if y is None and loss is not None:
        name = loss if isinstance(loss, str) else getattr(loss, "name", None) or \
            getattr(loss, "__name__", type(loss).__name__)
        raise ValueError(f"{where}() needs targets `y`: the model was compiled with the loss "
                         f"{name!r}, which compares predictions with targets. Call "
                         f"{where}(x, y, ...).")
    if isinstance(x, dict):
        x = {k: np.asarray(v) for k, v in x.items()}
        if len({len(v) for v in x.values()}) > 1:
            raise ValueError(f"{where}(): all inputs must have the same number of samples; "
                             f"received { {k: len(v) for k, v in x.items()} }.")
    x = x if isinstance(x, dict) else [np.asarray(a) for a in x] if isinstance(x, (list, tuple)) and len(x) and hasattr(
        x[0], "shape") else _as_array(x, "x")
    if isinstance(y, (list, tuple)) and len(y) and hasattr(y[0], "shape"):
        y = [np.asarray(a) for a in y]
    else:
        y = _as_array(y, "y")
    sw = _as_array(sample_weight, "sample_weight")
    for name, v in (("x", x), ("y", y), ("sample_weight", sw)):
        check_numeric(v, f"{where}()", f"`{name}` data")
    if isinstance(x, list):
        lengths = {len(a) for a in x}
        if len(lengths) != 1:
            raise ValueError(f"{where}(): all inputs must have the same number of samples; "
                             f"received {[len(a) for a in x]}.")
    if not isinstance(x, dict) and np.ndim(x[0] if isinstance(x, list) else x) == 0:
        raise ValueError(f"{where}(): x must have a batch axis; received a scalar.")
    n = _length(x)
    if n == 0:
        shapes = ({k: np.shape(v) for k, v in x.items()} if isinstance(x, dict) else
                  [np.shape(a) for a in x] if isinstance(x, list) else np.shape(x))
        raise ValueError(f"{where}() received 0 samples: x has shape {shapes}. Pass at least "
                         "one sample (check the slicing or filtering that made the data).")
    if y is not None and where != "predict":
        nx, ny = _length(x), _length(y)
        if nx != ny:
            raise ValueError(
                f"{where}(): x and y must have the same number of samples; received x with "
                f"{nx} samples and y with {ny}. Check that inputs and targets line up.")
    if sw is not None and len(sw) != _length(x):
        raise ValueError(f"{where}(): sample_weight has {len(sw)} entries but x has "
                         f"{_length(x)} samples.")
    return x, y, sw


def _take(v, idx):
    if v is None:
        return None
    if isinstance(v, dict):
        return {k: a[idx] for k, a in v.items()}
    if isinstance(v, list):
        return [a[idx] for a in v]
    return v[idx]


def split_validation(x, y, sw, fraction):
    """Keras's validation_split: the last `fraction` of the samples, before shuffling."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split must be in (0, 1); received {fraction!r}.")
    n = _length(x)
    cut = int(n * (1 - fraction))
    if cut == 0 or cut == n:
        raise ValueError(f"validation_split={fraction} leaves an empty split of {n} samples.")
    train = tuple(_take(v, slice(0, cut)) for v in (x, y, sw))
    val = tuple(_take(v, slice(cut, n)) for v in (x, y, sw))
    return train, val


def batches(x, y, sw, batch_size, order):
    """Yields (x_batch, y_batch, sw_batch, size); `order` is a permutation or None."""
    batch_size = check_batch_size(batch_size)
    n = _length(x)
    for start in range(0, n, batch_size):
        idx = slice(start, min(start + batch_size, n)) if order is None else \
            order[start:start + batch_size]
        xb, yb, wb = _take(x, idx), _take(y, idx), _take(sw, idx)
        size = min(start + batch_size, n) - start
        yield xb, yb, wb, size
