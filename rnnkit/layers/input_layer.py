"""`Input` / `InputLayer`: the entry point of a functional model."""

from __future__ import annotations

import numpy as np

from rnnkit import symbolic
from rnnkit.layers.layer import Layer


class InputLayer(Layer):
    """Holds the shape and dtype of a model input; has no weights."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None,
                 name=None, sparse=False, **kwargs):
        if shape is None and batch_shape is None:
            raise ValueError("Input needs a `shape` (without the batch axis), e.g. "
                             "Input(shape=(timesteps, features)).")
        if batch_shape is None:
            if isinstance(shape, int):
                shape = (shape,)
            try:
                shape = tuple(None if d is None else int(d) for d in shape)
            except TypeError:
                raise ValueError(f"Input `shape` must be a tuple of ints or None, without the "
                                 f"batch axis. Received: shape={shape!r}.") from None
            batch_shape = (batch_size, *shape)
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.batch_shape = tuple(batch_shape)
        self.built = True
        node = symbolic.Node(self, (), {}, outputs=None, inputs=[])
        self.output = symbolic.KerasTensor(self.batch_shape, np.dtype(dtype or "float32"),
                                           name=self.name, node=node, index=0)
        node.outputs = self.output
        self._inbound_nodes.append(node)

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.output.dtype.name,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(batch_shape=config["batch_shape"], dtype=config.get("dtype"),
                   name=config.get("name"))


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
    """A symbolic input of `shape` (no batch axis): `Input(shape=(T, D))`."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype,
                      batch_shape=batch_shape, name=name, **kwargs).output
