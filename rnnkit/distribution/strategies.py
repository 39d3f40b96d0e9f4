"""`DataParallel`, `ModelParallel` and the current distribution (Keras 3 names).

A distribution answers two questions for the trainer: how is a batch laid out
(`get_data_layout`: split over the `batch_dim_name` mesh axis) and how is each variable laid
out (`get_variable_layout`: replicated, or what a `LayoutMap` says for its path).
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np

from rnnkit.distribution.mesh import DeviceMesh, LayoutMap, TensorLayout, list_devices

DEFAULT_BATCH_DIM_NAME = "batch"

_current = [None]


class Distribution:
    """Base class: a device mesh and the name of the mesh axis the batch is split over."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        if batch_dim_name not in device_mesh.axis_names:
            raise ValueError(
                f"batch_dim_name={batch_dim_name!r} is not an axis of the mesh; its axes are "
                f"{list(device_mesh.axis_names)}. Name one of those.")
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes = jax.process_count()
        self._process_id = jax.process_index()

    @property
    def device_mesh(self):
        return self._device_mesh

    @property
    def batch_dim_name(self):
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self):
        return self._auto_shard_dataset

    @property
    def num_processes(self):
        return self._num_processes

    @property
    def process_id(self):
        return self._process_id

    @property
    def batch_shards(self):
        """How many parts a batch is split into (the size of the batch mesh axis)."""
        return self._device_mesh.shape[self._device_mesh.axis_names.index(self._batch_dim_name)]

    def get_data_layout(self, data_shape):
        """Axis 0 split over the batch mesh axis, the other axes whole."""
        return TensorLayout((self._batch_dim_name,) + (None,) * (len(data_shape) - 1),
                            self._device_mesh)

    def get_variable_layout(self, variable):
        return TensorLayout((None,) * len(variable.shape), self._device_mesh)

    def get_tensor_layout(self, path):
        return None

    @contextlib.contextmanager
    def scope(self):
        """`with dist.scope():` makes this the current distribution inside the block."""
        previous = _current[0]
        _current[0] = self
        try:
            yield self
        finally:
            _current[0] = previous

    def __repr__(self):
        return (f"<{type(self).__name__} mesh={self._device_mesh!r}, "
                f"batch_dim_name={self._batch_dim_name!r}>")


class DataParallel(Distribution):
    """Every device holds all variables; each batch is split over the devices.

    Args:
        device_mesh: a 1-D `DeviceMesh` (its axis is the batch axis); or
        devices: device names (`list_devices()` entries); all devices when both are None.
        auto_shard_dataset: kept for Keras compatibility. rnnkit always reads per-process
            arrays: with several processes, each process passes its own part of the data.
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(f"DataParallel(device_mesh=...) expects a DeviceMesh. "
                                 f"Received: {type(device_mesh).__name__}.")
            batch_dim_name = device_mesh.axis_names[0]
        else:
            names = list(devices) if devices else list_devices()
            device_mesh = DeviceMesh((len(names),), [DEFAULT_BATCH_DIM_NAME], names)
            batch_dim_name = DEFAULT_BATCH_DIM_NAME
        super().__init__(device_mesh, batch_dim_name, auto_shard_dataset)


class ModelParallel(Distribution):
    """Variables laid out by a `LayoutMap` (e.g. an Embedding table split over a "model"
    axis); the batch split over `batch_dim_name` (default: the mesh's first axis).

    Variables whose path matches no key of the map are replicated.
    """

    def __init__(self, *, layout_map=None, batch_dim_name=None, auto_shard_dataset=True,
                 **kwargs):
        kwargs.pop("device_mesh", None)
        if kwargs:
            raise TypeError(f"ModelParallel got unexpected arguments {sorted(kwargs)}.")
        if not isinstance(layout_map, LayoutMap):
            raise ValueError("ModelParallel needs layout_map=LayoutMap(mesh). Received: "
                             f"{type(layout_map).__name__}.")
        mesh = layout_map.device_mesh
        super().__init__(mesh, batch_dim_name or mesh.axis_names[0], auto_shard_dataset)
        self._layout_map = layout_map

    def get_variable_layout(self, variable):
        layout = self._layout_map[variable.path]
        if layout is None:
            return super().get_variable_layout(variable)
        shape = tuple(variable.shape)
        if len(layout.axes) != len(shape):
            raise ValueError(
                f"The LayoutMap gives variable '{variable.path}' (shape {shape}) the layout "
                f"{layout.axes}, which has {len(layout.axes)} entries; it needs one per axis "
                f"({len(shape)}).")
        mesh = self._device_mesh
        for size, axis in zip(shape, layout.axes):
            parts = 1 if axis is None else mesh.shape[mesh.axis_names.index(axis)]
            if size % parts:
                raise ValueError(
                    f"Variable '{variable.path}' of shape {shape} cannot be split over mesh "
                    f"axis {axis!r} ({parts} devices): {size} is not divisible by {parts}. "
                    "Choose a layer size divisible by the axis or another layout.")
        return layout

    def get_tensor_layout(self, path):
        return self._layout_map[path]


def distribution():
    """The current distribution (`set_distribution` / `with dist.scope()`), or None."""
    return _current[0]


def set_distribution(value):
    """Makes `value` (a `DataParallel`/`ModelParallel`, or None) the current distribution."""
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(f"set_distribution expects a Distribution or None. Received: "
                         f"{type(value).__name__}.")
    _current[0] = value


def distribute_tensor(tensor, layout):
    """`tensor` laid out by `layout` (a `TensorLayout` or a `jax.sharding.Sharding`); inside
    a traced function, a sharding constraint."""
    sharding = layout.backend_layout if isinstance(layout, TensorLayout) else layout
    if isinstance(tensor, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    if isinstance(tensor, jax.Array) and tensor.sharding.is_equivalent_to(sharding,
                                                                         tensor.ndim):
        return tensor
    return jax.device_put(np.asarray(tensor) if not isinstance(tensor, jax.Array) else tensor,
                          sharding)
