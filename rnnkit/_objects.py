"""Keras-style dicts for configurable objects (initializers, regularizers, constraints)."""

from __future__ import annotations


def object_serializers(kind: str, base: type, module: str, example: str, by_name: dict):
    """`(serialize, deserialize)` for the `kind` objects of `module` (classes in `by_name`).

    serialize: instance -> `{"module", "class_name", "config", "registered_name"}`; None -> None.
    deserialize: such a dict (also one saved by Keras) -> a new instance.
    """

    def serialize(obj):
        if obj is None:
            return None
        if not isinstance(obj, base):
            raise ValueError(
                f"Cannot serialize {obj!r}: expected an rnnkit {base.__name__} instance "
                f"(e.g. {example}). Plain functions have no config to save.")
        return {"module": module, "class_name": type(obj).__name__,
                "config": obj.get_config(), "registered_name": None}

    def deserialize(config):
        class_name = config.get("class_name") if isinstance(config, dict) else None
        if class_name not in by_name:
            raise ValueError(
                f"Cannot deserialize {kind} from {config!r}: expected a dict with "
                f"'class_name' one of {', '.join(sorted(by_name))} and a 'config' dict.")
        return by_name[class_name].from_config(dict(config.get("config") or {}))

    serialize.__doc__ = f"A Keras-style dict for a {kind} (None for None)."
    deserialize.__doc__ = f"A {kind} from a `serialize` dict (Keras-saved dicts work too)."
    return serialize, deserialize
