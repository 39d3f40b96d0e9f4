"""Layer configs as plain JSON-able dicts: `{"class_name": ..., "config": {...}}`."""

from __future__ import annotations

_CUSTOM: dict[str, type] = {}


def register(cls):
    """Registers a custom layer or cell class so saved models can rebuild it."""
    _CUSTOM[cls.__name__] = cls
    return cls


def _lookup(name: str):
    import rnnkit.layers as layers

    if name in _CUSTOM:
        return _CUSTOM[name]
    cls = getattr(layers, name, None)
    if cls is None:
        raise ValueError(
            f"Unknown layer class '{name}'. If it is a custom layer, decorate it with "
            "@rnnkit.layers.register (or pass custom_objects={'" + name + "': cls}).")
    return cls


def serialize(layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec: dict, custom_objects: dict | None = None):
    name = spec["class_name"]
    cls = (custom_objects or {}).get(name) or _lookup(name)
    return cls.from_config(spec["config"])
