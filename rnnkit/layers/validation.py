"""Checks of what users pass in: constructor arguments and the arrays layers run on.

One home for them, so every layer accepts the same things Keras accepts (NumPy integers
where an int is expected, NumPy floats where a float is) and refuses the same things with
the same kind of message: what was expected, what was received, how to fix it.
"""

from __future__ import annotations

import numbers

import numpy as np


def is_int(value) -> bool:
    """True for Python and NumPy integers (not bools): what Keras accepts as an int."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_number(value) -> bool:
    """True for real Python/NumPy ints and floats (not bools, not complex)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_positive_int(owner: str, arg: str, value, example: str, what: str = "") -> int:
    """`int(value)` if it is a positive integer (NumPy integers too), else a ValueError."""
    if not is_int(value) or value <= 0:
        raise ValueError(
            f"{owner} expects `{arg}` to be a positive integer{what}. Received: "
            f"{arg}={value!r} (of type {type(value).__name__}). For example: {example}.")
    return int(value)


def check_rate(owner: str, arg: str, rate, what="the fraction of units to drop during "
               "training", fix="Use 0.0 for no dropout.") -> float:
    """`float(rate)` if it is a number in [0, 1), else a ValueError."""
    if not is_number(rate) or not 0 <= rate < 1:
        raise ValueError(f"{owner} expects `{arg}` to be a float in [0, 1): {what}. "
                         f"Received: {arg}={rate!r}. {fix}")
    return float(rate)


def _dtype_problem(dtype):
    """None if arrays of `dtype` can be computed on, else the reason and the fix."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        return ("complex numbers; rnnkit layers compute in real numbers and would drop the "
                "imaginary part", "pass the real and imaginary parts as separate features, "
                "e.g. np.concatenate([x.real, x.imag], axis=-1)")
    if kind in "USO":  # not "V": bfloat16 and the other ml_dtypes report kind "V"
        return ("no numbers (strings or Python objects)", "Convert the data to "
                "numbers first, e.g. text to integer ids with a vocabulary (then an "
                "Embedding layer), or ragged sequences padded to one length")
    return None


def check_numeric(x, where: str, what: str = "inputs"):
    """Raises a TypeError unless the array `x` holds real numbers (bool, int or float);
    lists/tuples/dicts of arrays are checked leaf by leaf."""
    if isinstance(x, (list, tuple)):
        for v in x:
            check_numeric(v, where, what)
        return
    if isinstance(x, dict):
        for v in x.values():
            check_numeric(v, where, what)
        return
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return
    try:
        problem = _dtype_problem(dtype)
    except TypeError:  # not a NumPy-compatible dtype (a symbolic placeholder)
        return
    if problem is not None:
        reason, fix = problem
        raise TypeError(
            f"{where} expects numeric {what} (bool, int or float). Received {what} of dtype "
            f"{np.dtype(dtype).name} and shape {tuple(np.shape(x))}: {reason}. "
            f"{fix[0].upper() + fix[1:]}.")


def as_numeric_array(value, where: str, what: str = "inputs"):
    """A nested Python list or tuple of numbers as a NumPy array (checked numeric); any
    other value is returned as it is. Lists holding arrays are kept: they are the several
    inputs of a multi-input layer or model."""
    if not isinstance(value, (list, tuple)) or not _only_scalars(value):
        return value
    try:
        arr = np.asarray(value)
    except ValueError as err:  # ragged
        raise ValueError(f"{where} could not turn the nested list of {what} into one array: "
                         f"{err}. Pad the sequences to one length (and mask the padding), "
                         "or pass a NumPy array.") from None
    check_numeric(arr, where, what)
    return arr


def _only_scalars(value) -> bool:
    """True if a (nested) list/tuple holds only Python/NumPy scalars or strings."""
    stack = [value]
    seen_scalar = False
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (numbers.Number, str, bytes, np.generic)):
            seen_scalar = True
        else:
            return False
    return seen_scalar
