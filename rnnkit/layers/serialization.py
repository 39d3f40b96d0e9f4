"""Layer configs as plain JSON-able dicts: `{"class_name": ..., "config": {...}}`, and back.

Class names are looked up in three places only: classes registered with `register` (or
passed as `custom_objects`), the model classes (`Model`, `Functional`, `Sequential`, which
`rnnkit.models` registers when it is imported) and `rnnkit.layers`. A name from a file is
never imported or evaluated.
"""

from __future__ import annotations

import contextlib

from rnnkit.layers.layer import Layer

_CUSTOM: dict[str, type] = {}
_MODEL_CLASSES: dict[str, type] = {}


def register(cls):
    """Registers a custom layer or cell class so saved models can rebuild it."""
    _CUSTOM[cls.__name__] = cls
    return cls


def register_model_classes(**classes):
    """Called by `rnnkit.models` with its `Model`/`Sequential` classes (the layer level
    does not import the model level)."""
    _MODEL_CLASSES.update(classes)


def _unknown(name):
    return ValueError(
        f"Unknown layer class '{name}'. If it is a custom layer, decorate it with "
        "@rnnkit.layers.register (or pass custom_objects={'" + name + "': cls}).")


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


def lookup_class(name: str):
    """The class registered, or built into rnnkit, under `name` (a ValueError if none)."""
    if name in _CUSTOM:
        return _CUSTOM[name]
    if name in _MODEL_CLASSES:
        return _MODEL_CLASSES[name]
    cls = _builtin_classes().get(name)
    if cls is None:
        raise _unknown(name)
    return cls


def serialize(layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec: dict, custom_objects: dict | None = None):
    """The layer described by `spec` (`{"class_name": str, "config": dict}`); a malformed
    spec gives a ValueError saying what was expected."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ValueError(
            "A layer config must be a dict {'class_name': str, 'config': dict}; received "
            f"{_show(spec)}. The saved model config is malformed (edited by hand, or "
            "written by another program).")
    name = spec["class_name"]
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(
            f"The config of layer class '{name}' must be a dict; received "
            f"{_show(config)}. The saved model config is malformed.")
    cls = (custom_objects or {}).get(name) or lookup_class(name)
    if not callable(getattr(cls, "from_config", None)):
        raise ValueError(f"'{name}' (from custom_objects) is not a layer class with "
                         "from_config(); pass the class itself.")
    try:
        return cls.from_config(config)
    except (KeyError, AttributeError, IndexError) as err:
        raise ValueError(
            f"Cannot rebuild a '{name}' layer from its saved config: "
            f"{type(err).__name__}: {err}. The config is malformed or incomplete "
            f"(received keys {sorted(config)[:12]}).") from None


def _show(obj, limit=80):
    text = repr(obj)
    return f"{type(obj).__name__} {text[:limit]}{'...' if len(text) > limit else ''}"


@contextlib.contextmanager
def custom_object_scope(custom_objects=None):
    """Makes `custom_objects` (name -> class) visible to `deserialize`, including nested
    deserialization (an RNN's cell, a Bidirectional's layer, a model used as a layer).
    Restores the registry after."""
    extra = dict(custom_objects or {})
    saved = {name: _CUSTOM[name] for name in extra if name in _CUSTOM}
    _CUSTOM.update(extra)
    try:
        yield
    finally:
        for name in extra:
            if name in saved:
                _CUSTOM[name] = saved[name]
            else:
                _CUSTOM.pop(name, None)


def deserialize_layer(spec, custom_objects=None, where="layer"):
    """`deserialize` with custom objects in scope and errors that say which layer of the
    saved model failed and how to fix it."""
    with custom_object_scope(custom_objects):
        try:
            return deserialize(spec, custom_objects)
        except ValueError as err:
            msg = str(err)
            if "Unknown layer class" not in msg:
                raise
            missing = msg.split("'")[1] if "'" in msg else "?"
            raise ValueError(
                f"Cannot rebuild {where}: it uses the class '{missing}', which rnnkit does "
                f"not know. It is a custom class saved by name; to load it either pass "
                f"custom_objects={{'{missing}': {missing}}} (to load_model / from_config), "
                f"or decorate the class with @rnnkit.layers.register before loading."
            ) from None
        except TypeError as err:
            raise TypeError(
                f"Cannot rebuild {where} (class '{spec.get('class_name')}') from its saved "
                f"config: {err}. A custom layer or cell must define get_config() returning "
                "its constructor arguments (and from_config() if they need converting)."
            ) from None
