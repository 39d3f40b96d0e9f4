"""Keras 3 merge layers: `Concatenate`, `Add`, `Subtract`, `Multiply`, `Average`.

Each takes a list of tensors. The elementwise ones follow Keras 3's `Merge` base: inputs of
different ranks are expanded at axis 1 until the ranks match, then combined left to right
(`Average` is the sum divided by the number of inputs). Output masks follow Keras: the
elementwise layers OR the input masks (None if any input has none); `Concatenate` joins
the masks (an unmasked input counts as all True) and reduces over the last axis.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.layers.helpers import output_spec, spec_dtype
from rnnkit.layers.layer import Layer
from rnnkit.layers.validation import is_int


def _shapes(inputs):
    return [tuple(x.shape) for x in inputs]


class Merge(Layer):
    """Base class of the elementwise merge layers (Keras `keras.layers.Merge`)."""

    _min_inputs = 1
    _max_inputs = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._reshape_required = False

    # --- validation -------------------------------------------------------------------
    def _expects(self) -> str:
        if self._max_inputs == self._min_inputs:
            return f"exactly {self._min_inputs}"
        return f"at least {self._min_inputs}"

    def _check_inputs(self, args, kwargs):
        inputs = args[0]
        cls = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A {cls} layer should be called on a list of inputs, e.g. {cls}()([x1, x2]). "
                f"Received: a single {type(inputs).__name__}"
                f"{' of shape ' + str(tuple(inputs.shape)) if hasattr(inputs, 'shape') else ''}.")
        n = len(inputs)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            raise ValueError(
                f"A {cls} layer should be called on {self._expects()} inputs. Received "
                f"{n} inputs.")
        if not all(hasattr(x, "shape") for x in inputs):
            raise ValueError(
                f"A {cls} layer expects a list of tensors. Received element types: "
                f"{[type(x).__name__ for x in inputs]}.")
        self._check_shapes(_shapes(inputs))

    def _check_shapes(self, shapes):
        batch = {s[0] for s in shapes if s} - {None}
        if len(batch) > 1:
            raise ValueError(
                f"{type(self).__name__} cannot merge tensors with different batch sizes. "
                f"Received shapes: {shapes}.")
        self._output_shape(shapes)

    @staticmethod
    def _pair_shape(cls, shape1, shape2, all_shapes):
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        if not shape2:
            return tuple(shape1)
        out = list(shape1[:len(shape1) - len(shape2)])
        for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
            if i is None or j is None:
                out.append(None)
            elif i == 1:
                out.append(j)
            elif j == 1 or i == j:
                out.append(i)
            else:
                raise ValueError(
                    f"{cls} requires inputs of the same shape (or broadcastable shapes). "
                    f"Received shapes: {all_shapes}.")
        return tuple(out)

    def _output_shape(self, shapes):
        cls = type(self).__name__
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = self._pair_shape(cls, out, s[1:], shapes)
        batch = {s[0] for s in shapes if s} - {None}
        return (batch.pop() if batch else None, *out)

    # --- build & call -----------------------------------------------------------------
    def build(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        self._reshape_required = len({len(s) for s in shapes}) > 1
        self.built = True

    def _merge_function(self, inputs, masks=None):
        raise NotImplementedError

    def call(self, inputs, mask=None):
        inputs = list(inputs)
        masks = None
        if mask is not None:
            masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
            masks += [None] * (len(inputs) - len(masks))
        ranks = [x.ndim for x in inputs]
        if len(set(ranks)) > 1:
            top = max(ranks)
            inputs = [jnp.reshape(x, (x.shape[0], *([1] * (top - x.ndim)), *x.shape[1:]))
                      for x in inputs]
        return self._merge_function(inputs, masks)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if any(m is None for m in masks) or len(masks) != len(inputs):
            return None
        out = masks[0]
        for m in masks[1:]:
            out = jnp.logical_or(out, m)
        return out

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = spec_dtype(super().compute_output_spec(inputs, *args, **kwargs))
        return output_spec(self._output_shape(_shapes(inputs)), dtype)


class Add(Merge):
    """Elementwise sum of a list of tensors of the same shape: `Add()([x1, x2])`."""

    def _merge_function(self, inputs, masks=None):
        out = inputs[0]
        for x in inputs[1:]:
            out = jnp.add(out, x)
        return out


class Subtract(Merge):
    """`inputs[0] - inputs[1]` for a list of exactly two tensors: `Subtract()([a, b])`."""

    _min_inputs = 2
    _max_inputs = 2

    def _merge_function(self, inputs, masks=None):
        return jnp.subtract(inputs[0], inputs[1])


class Multiply(Merge):
    """Elementwise product of a list of tensors of the same shape.

    As in Keras 3: where an input is masked (its mask is False at a time step), that input
    counts as 1 in the product; if every input has a mask, steps masked in all inputs
    give 0.
    """

    def _merge_function(self, inputs, masks=None):
        masks = masks or [None] * len(inputs)
        all_masked = all(m is not None for m in masks)
        out, out_mask = None, None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = jnp.broadcast_to(jnp.reshape(m, (*m.shape, 1)), x.shape)
                x = jnp.where(m, x, jnp.ones((), x.dtype))
                if all_masked:
                    out_mask = m if out_mask is None else jnp.logical_or(out_mask, m)
            out = x if out is None else jnp.multiply(out, x)
        if all_masked:
            out = jnp.where(out_mask, out, jnp.zeros((), out.dtype))
        return out


class Average(Merge):
    """Elementwise mean of a list of tensors of the same shape: `Average()([x1, x2])`."""

    def _merge_function(self, inputs, masks=None):
        out = inputs[0]
        for x in inputs[1:]:
            out = jnp.add(out, x)
        return out / len(inputs)


class Concatenate(Merge):
    """Joins a list of tensors along `axis` (default -1, the feature axis).

    All other axes must match. `Concatenate(axis=1)([a, b])` joins along time.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not is_int(axis):
            raise ValueError(f"Concatenate expects `axis` to be an integer. Received: "
                             f"axis={axis!r}.")
        self.axis = int(axis)

    def _check_shapes(self, shapes):
        ranks = {len(s) for s in shapes}
        msg = ("A Concatenate layer requires inputs with matching shapes except for the "
               f"concatenation axis (axis={self.axis}). Received shapes: {shapes}.")
        if len(ranks) != 1:
            raise ValueError(msg + " The inputs have different ranks.")
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Concatenate axis={self.axis} is out of range for inputs of rank {rank} "
                f"(shapes {shapes}). Use an axis in [{-rank}, {rank - 1}].")
        if self.axis % rank == 0:
            raise ValueError(
                "Concatenate cannot join along the batch axis (axis 0). Received "
                f"axis={self.axis} for inputs of shapes {shapes}.")
        axis = self.axis % rank
        for i in range(rank):
            if i == axis:
                continue
            known = {s[i] for s in shapes} - {None}
            if len(known) > 1:
                raise ValueError(msg + f" They differ on axis {i}.")

    def _output_shape(self, shapes):
        rank = len(shapes[0])
        axis = self.axis % rank
        out = []
        for i in range(rank):
            dims = [s[i] for s in shapes]
            if i == axis:
                out.append(None if None in dims else sum(dims))
            else:
                known = [d for d in dims if d is not None]
                out.append(known[0] if known else None)
        return tuple(out)

    def build(self, input_shape):
        self.built = True

    def _merge_function(self, inputs, masks=None):
        return jnp.concatenate(inputs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if len(masks) != len(inputs) or all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                full.append(jnp.ones(x.shape, dtype=bool))
            elif m.ndim < x.ndim:
                full.append(jnp.broadcast_to(jnp.reshape(m, (*m.shape, 1)), x.shape))
            else:
                full.append(m)
        return jnp.any(jnp.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
