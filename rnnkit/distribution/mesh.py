"""Devices, meshes and layouts (Keras 3 `keras.distribution` names) over `jax.sharding`.

A `DeviceMesh` is a named grid of devices (`jax.sharding.Mesh`); a `TensorLayout` says, per
array axis, which mesh axis splits it (`None`: not split), i.e. a `PartitionSpec` on a mesh;
a `LayoutMap` maps variable paths (`"embedding/embeddings"`, or a regular expression matched
against the whole path) to layouts.
"""

from __future__ import annotations

import collections.abc
import math
import re

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec


def list_devices(device_type=None):
    """Names of every device of every process, e.g. `["cpu:0", "cpu:1"]`.

    Args:
        device_type: "cpu", "gpu" or "tpu"; None: the default backend's devices (an
            accelerator when there is one, else the CPU).
    """
    devices = jax.devices(device_type.lower() if device_type else None)
    return [f"{d.platform}:{d.id}" for d in devices]


def get_device_count(device_type=None):
    """Number of devices of `device_type` over all processes (see `list_devices`)."""
    return jax.device_count(device_type.lower() if device_type else None)


def _to_jax_device(device):
    if isinstance(device, jax.Device):
        return device
    if not isinstance(device, str) or ":" not in device:
        raise ValueError(f"A device is a name like 'cpu:0' (see list_devices()) or a "
                         f"jax.Device. Received: {device!r}.")
    platform, _, index = device.partition(":")
    for d in jax.devices(platform.lower()):
        if str(d.id) == index:
            return d
    raise ValueError(f"No device named {device!r}. Available: {list_devices(platform)}.")


class DeviceMesh:
    """A grid of devices with named axes, e.g. `DeviceMesh((2, 2), ["batch", "model"])`.

    Args:
        shape: the grid's shape; its product is the number of devices.
        axis_names: one name per grid axis.
        devices: device names or `jax.Device`s (any shape with that many entries); all
            devices of all processes (`list_devices()`) when None.
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError("DeviceMesh needs a non-empty shape and axis_names. Received: "
                             f"shape={shape}, axis_names={axis_names}.")
        shape, axis_names = tuple(int(s) for s in shape), tuple(axis_names)
        if len(shape) != len(axis_names):
            raise ValueError(f"DeviceMesh: shape and axis_names must have the same length. "
                             f"Received: shape={shape}, axis_names={axis_names}.")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"DeviceMesh: axis names must differ. Received: {axis_names}.")
        names = np.array(list_devices() if devices is None else devices, dtype=object)
        if math.prod(shape) != names.size:
            raise ValueError(
                f"DeviceMesh of shape {shape} needs {math.prod(shape)} devices; received "
                f"{names.size}. Pass devices=list_devices()[:{math.prod(shape)}] or a shape "
                f"whose product is {names.size}.")
        self._shape, self._axis_names = shape, axis_names
        self._devices = names.reshape(shape)
        jax_devices = np.array([_to_jax_device(d) for d in names.flat], dtype=object)
        self._mesh = Mesh(jax_devices.reshape(shape), axis_names,
                          axis_types=(AxisType.Auto,) * len(shape))

    @property
    def shape(self):
        return self._shape

    @property
    def axis_names(self):
        return self._axis_names

    @property
    def devices(self):
        return self._devices

    @property
    def backend_mesh(self):
        """The `jax.sharding.Mesh`."""
        return self._mesh

    def __repr__(self):
        return f"<DeviceMesh shape={self._shape}, axis_names={list(self._axis_names)}>"


class TensorLayout:
    """Which mesh axis splits each axis of an array: `TensorLayout(("batch", None), mesh)`.

    Args:
        axes: one entry per array axis: a mesh axis name, or None (not split).
        device_mesh: the `DeviceMesh`; may be set later (a `LayoutMap` fills in its own).
    """

    def __init__(self, axes, device_mesh=None):
        self._axes = tuple(axes)
        self._device_mesh = None
        if device_mesh is not None:
            self.device_mesh = device_mesh

    @property
    def axes(self):
        return self._axes

    @property
    def device_mesh(self):
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh):
        if self._device_mesh is not None:
            raise ValueError(f"{self!r} already has a device mesh; a layout belongs to one "
                             "mesh. Create a new TensorLayout for another mesh.")
        missing = [a for a in self._axes if a is not None and a not in device_mesh.axis_names]
        if missing:
            raise ValueError(
                f"TensorLayout axes {self._axes} name mesh axes {missing} that do not exist. "
                f"The mesh's axes are {list(device_mesh.axis_names)}: use one of those (or "
                "None for an axis that is not split).")
        self._device_mesh = device_mesh

    @property
    def backend_layout(self):
        """The `jax.sharding.NamedSharding`."""
        if self._device_mesh is None:
            raise ValueError(f"{self!r} has no device mesh yet. Pass device_mesh= or put the "
                             "layout in a LayoutMap.")
        return NamedSharding(self._device_mesh.backend_mesh, PartitionSpec(*self._axes))

    def __repr__(self):
        return f"<TensorLayout axes={self._axes}, device_mesh={self._device_mesh!r}>"


class LayoutMap(collections.abc.MutableMapping):
    """Variable paths (or regular expressions over whole paths) -> `TensorLayout`.

    `layout_map[".*embeddings"] = (None, "model")` splits every Embedding table's output
    axis over the mesh's "model" axis. A path matching two keys is an error.
    """

    def __init__(self, device_mesh):
        self._device_mesh = device_mesh
        self._layouts = collections.OrderedDict()

    @property
    def device_mesh(self):
        return self._device_mesh

    def __getitem__(self, key):
        if key in self._layouts:
            return self._layouts[key]
        hits = [k for k in self._layouts if re.fullmatch(k, key)]
        if len(hits) > 1:
            raise ValueError(f"Path {key!r} matches several LayoutMap keys: {hits}. Make the "
                             "keys specific enough that each path matches at most one.")
        return self._layouts[hits[0]] if hits else None

    def __setitem__(self, key, layout):
        if key in self._layouts:
            raise ValueError(f"LayoutMap already has the key {key!r} (layout "
                             f"{self._layouts[key]!r}); delete it first to replace it.")
        if isinstance(layout, (tuple, list)):
            layout = TensorLayout(layout)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"A LayoutMap value is a TensorLayout or a tuple of mesh axis "
                             f"names / None. Received: {layout!r}.")
        if layout.device_mesh is None:
            layout.device_mesh = self._device_mesh
        self._layouts[key] = layout

    def __delitem__(self, key):
        del self._layouts[key]

    def __len__(self):
        return len(self._layouts)

    def __iter__(self):
        return iter(self._layouts)
