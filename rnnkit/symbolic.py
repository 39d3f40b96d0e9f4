"""Symbolic tensors: what `Input(...)` returns and what layers return when called on one.

A `KerasTensor` has a shape with `None` for unknown sizes, a dtype, and a `_keras_history`
(the node that produced it). Functional models walk these nodes to run the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np


class KerasTensor:
    """A placeholder for an array of `shape` (None = any size) and `dtype`."""

    def __init__(self, shape, dtype="float32", *, name=None, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self._keras_history = (node, index)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def node(self):
        return self._keras_history[0]

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} dtype={self.dtype.name} name={self.name}>"

    def __iter__(self):
        raise TypeError(
            f"A symbolic tensor of shape {self.shape} cannot be unpacked or iterated. "
            "If this is the output of a recurrent layer and you wanted (output, state), "
            "create the layer with return_state=True."
        )

    def __bool__(self):
        raise TypeError("A symbolic tensor has no truth value: it has no data until the "
                        "model runs on real inputs.")


@dataclass
class Node:
    """One call of `layer` on symbolic inputs: `outputs = layer(*args, **kwargs)`.

    `args`/`kwargs` keep the call's structure with KerasTensors in place; `inputs` lists
    those KerasTensors in flattening order.
    """

    layer: Any
    args: tuple
    kwargs: dict
    outputs: Any
    inputs: list = field(default_factory=list)


def is_symbolic(x) -> bool:
    return isinstance(x, KerasTensor)


def tree_leaves(tree):
    return jax.tree_util.tree_leaves(tree, is_leaf=lambda x: x is None or is_symbolic(x))


def any_symbolic(tree) -> bool:
    return any(is_symbolic(x) for x in tree_leaves(tree))
