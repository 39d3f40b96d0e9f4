"""`rearrange(tensor, "b (t d) -> t b d", t=3)`: einops-style regrouping and reordering of axes.

Each side lists the axes by name; `(a b)` is one axis made of `a` and `b` (a major). The
input is reshaped to the elementary axes of the left side, transposed to the order of the
right side, and reshaped to its groups.
"""

from __future__ import annotations

import math
import re

import jax.numpy as jnp


def _parse_side(side: str, pattern: str):
    if "..." in side:
        raise ValueError(f"rearrange: '...' is not supported in patterns. Received: {pattern!r}.")
    groups = []
    for token in re.findall(r"\([^()]*\)|[^\s()]+|[()]", side):
        if token in "()":
            raise ValueError(f"rearrange: unbalanced parentheses in {pattern!r}.")
        names = token[1:-1].split() if token.startswith("(") else [token]
        for name in names:
            if not name.isidentifier():
                raise ValueError(f"rearrange: axis names must be identifiers; got {name!r} "
                                 f"in {pattern!r}.")
        groups.append(names)
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    if not isinstance(pattern, str) or pattern.count("->") != 1:
        raise ValueError("rearrange: pattern must be a string 'left -> right', e.g. "
                         f"'b t d -> t b d'. Received: {pattern!r}.")
    x = jnp.asarray(tensor)
    left, right = (_parse_side(s, pattern) for s in pattern.split("->"))
    if len(left) != x.ndim:
        raise ValueError(f"rearrange: the left side of {pattern!r} names {len(left)} axes, but "
                         f"the input has shape {x.shape}.")
    sizes = dict(axes_lengths)
    for names, dim in zip(left, x.shape):
        unknown = [n for n in names if n not in sizes]
        known = math.prod(sizes[n] for n in names if n in sizes)
        if len(unknown) > 1:
            raise ValueError(f"rearrange: cannot infer the sizes of {unknown} in {pattern!r}; "
                             "give all but one of them as keyword arguments.")
        if unknown:
            if known == 0 or dim % known:
                raise ValueError(f"rearrange: axis of size {dim} cannot be split into {names} "
                                 f"with {axes_lengths}.")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(f"rearrange: {names} has size {known}, but the axis has size {dim}.")
    flat_left = [n for g in left for n in g]
    flat_right = [n for g in right for n in g]
    if sorted(flat_left) != sorted(flat_right) or len(set(flat_left)) != len(flat_left):
        raise ValueError(f"rearrange: both sides of {pattern!r} must name the same axes, "
                         "each once.")
    x = jnp.reshape(x, [sizes[n] for n in flat_left])
    x = jnp.transpose(x, [flat_left.index(n) for n in flat_right])
    return jnp.reshape(x, [math.prod(sizes[n] for n in g) for g in right])
