"""How every op in `rnnkit.ops` is made: a Keras signature plus a JAX function.

`op("cumsum(x, axis=None, dtype=None)", jnp.cumsum)` gives a function named `cumsum` whose
`inspect.signature` is Keras's. A call binds its arguments against that signature, replaces
every rnnkit Variable (also inside lists, tuples and dicts) by its current value, and passes
the values to the JAX function positionally, in Keras's order. Broadcasting follows NumPy
(rank promotion is allowed inside an op even when the caller's JAX config forbids it), as it
does for `keras.ops` on JAX.
"""

from __future__ import annotations

import ast
import inspect

import jax
import jax.numpy as jnp
import numpy as np

FLOATX = "float32"


def _unwrap(x):
    """`x.value` for Variable-like objects, `x` itself for everything else."""
    if hasattr(x, "value") and not isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return x.value
    return x


def unwrap_tree(x):
    """`x` with every Variable-like object (also inside lists, tuples, dicts) replaced by its value."""
    if isinstance(x, (list, tuple)):
        items = [unwrap_tree(v) for v in x]
        return type(x)(items) if type(x) in (list, tuple) else type(x)(*items)
    if isinstance(x, dict):
        return {k: unwrap_tree(v) for k, v in x.items()}
    return _unwrap(x)


def parse_signature(text: str) -> tuple[inspect.Signature, str]:
    """`(inspect.Signature, name)` of a Keras-style signature string like "sum(x, axis=None)"."""
    fn = ast.parse(f"def {text}: pass").body[0]
    a = fn.args
    params = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for arg, default in zip(positional, defaults):
        kind = (inspect.Parameter.POSITIONAL_ONLY if arg in a.posonlyargs
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        value = inspect.Parameter.empty if default is None else ast.literal_eval(default)
        params.append(inspect.Parameter(arg.arg, kind, default=value))
    if a.vararg is not None:
        params.append(inspect.Parameter(a.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        value = inspect.Parameter.empty if default is None else ast.literal_eval(default)
        params.append(inspect.Parameter(arg.arg, inspect.Parameter.KEYWORD_ONLY, default=value))
    if a.kwarg is not None:
        params.append(inspect.Parameter(a.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params), fn.name


def _describe(target) -> str:
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__name__", "")
    for public in ("jax.numpy", "jax.nn", "jax.lax", "jax.scipy.special", "jax.numpy.linalg",
                   "jax.scipy.linalg", "jax.numpy.fft", "jax.ops"):
        if module.startswith(public.replace("jax.", "jax._src.")) or module == public:
            return f"`{public}.{name}`"
    return f"`{name}`" if name and name != "<lambda>" else "JAX"


def op(signature: str, target, doc: str | None = None, *, unwrap: bool = True):
    """A `keras.ops` function: `signature` (Keras's, as text) calling `target` on JAX.

    `target` receives the bound arguments positionally in the signature's order (`*args`
    expanded, `**kwargs` and keyword-only ones as keywords), every Variable replaced by its
    value (unless `unwrap=False`).
    """
    prepare = unwrap_tree if unwrap else (lambda v: v)
    sig, name = parse_signature(signature)
    kinds = [(p.name, p.kind) for p in sig.parameters.values()]
    P = inspect.Parameter
    # Fast path for the common call (only positional arguments, no *args/**kwargs): the
    # values are the arguments followed by the remaining defaults.
    simple = all(k is P.POSITIONAL_OR_KEYWORD for _, k in kinds)
    defaults = [p.default for p in sig.parameters.values()]
    n_required = sum(d is P.empty for d in defaults)

    def bind(args, kwargs):
        if simple and not kwargs and n_required <= len(args) <= len(defaults):
            return [prepare(a) for a in args] + defaults[len(args):], {}
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"rnnkit.ops.{name}{sig}: {e}") from None
        bound.apply_defaults()
        values, extra = [], {}
        for pname, kind in kinds:
            v = bound.arguments[pname]
            if kind is P.VAR_POSITIONAL:
                values.extend(prepare(a) for a in v)
            elif kind is P.VAR_KEYWORD:
                extra.update({k: prepare(a) for k, a in v.items()})
            elif kind is P.KEYWORD_ONLY:
                extra[pname] = prepare(v)
            else:
                values.append(prepare(v))
        return values, extra

    def fn(*args, **kwargs):
        values, extra = bind(args, kwargs)
        if jax.config.jax_numpy_rank_promotion == "allow":
            return target(*values, **extra)
        with jax.numpy_rank_promotion("allow"):
            return target(*values, **extra)

    fn.__name__ = fn.__qualname__ = name
    fn.__signature__ = sig
    fn.__doc__ = doc or f"`keras.ops.{name}{sig}` on JAX, via {_describe(target)}."
    return fn


def not_applicable(signature: str, reason: str):
    """A `keras.ops` name rnnkit does not provide: calling it raises NotImplementedError(reason)."""
    sig, name = parse_signature(signature)

    def fn(*args, **kwargs):
        raise NotImplementedError(f"rnnkit.ops.{name} is not available in rnnkit: {reason}")

    fn.__name__ = fn.__qualname__ = name
    fn.__signature__ = sig
    fn.__doc__ = f"Not available in rnnkit: {reason}"
    fn.not_applicable = reason
    return fn


def to_float(x):
    """`x` as an array; integer and bool arrays become float32 (Keras's floatx rule)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(FLOATX)
    return x


def floatx_default(fn):
    """`fn(*args, dtype)` with `dtype=None` meaning float32 (Keras's default for creation ops)."""
    def call(*args):
        *rest, dtype = args
        return fn(*rest, dtype if dtype is not None else FLOATX)
    call.__name__ = getattr(fn, "__name__", "call")
    call.__module__ = getattr(fn, "__module__", None)
    return call
