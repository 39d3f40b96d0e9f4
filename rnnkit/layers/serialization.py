"""Layer configs as plain JSON-able dicts: `{"class_name": ..., "config": {...}}`."""

from __future__ import annotations

from rnnkit.layers.layer import Layer

_CUSTOM: dict[str, type] = {}


def register(cls):
    """Registers a custom layer or cell class so saved models can rebuild it."""
    _CUSTOM[cls.__name__] = cls
    return cls


def _builtin_classes() -> dict[str, type]:
    """rnnkit's public layer classes by name: the `Layer` subclasses defined in rnnkit.layers
    (all loaded by then: importing this module imports the rnnkit.layers package)."""
    out, todo = {}, [Layer]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("rnnkit.layers") and not cls.__name__.startswith("_"):
            out.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return out


def _lookup(name: str):
    if name in _CUSTOM:
        return _CUSTOM[name]
    cls = _builtin_classes().get(name)
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
