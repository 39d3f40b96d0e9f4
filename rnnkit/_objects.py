"""Keras-style dicts and `get` lookups for configurable objects (initializers, regularizers,
constraints)."""

from __future__ import annotations

import inspect


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


def object_getter(kind: str, by_name: dict, deserialize, *, example_name: str, instance_hint: str,
                  callable_hint: str):
    """`get(identifier)` for the `kind` objects of a module (classes in `by_name`):

    None -> None; a name -> a new default instance; a dict from `serialize` -> that object;
    a class -> a new instance; an instance or other callable -> itself. Anything else, or
    an unknown name, raises a ValueError that lists what is accepted.
    """

    def get(identifier):
        if identifier is None:
            return None
        if isinstance(identifier, dict):
            return deserialize(identifier)
        if isinstance(identifier, str):
            if identifier not in by_name:
                raise ValueError(
                    f"Unknown {kind} {identifier!r}. Valid names: "
                    f"{', '.join(sorted(by_name))}; or pass {instance_hint} or "
                    f"{callable_hint}.")
            return by_name[identifier]()
        if inspect.isclass(identifier):
            return identifier()
        if callable(identifier):
            return identifier
        raise ValueError(
            f"Could not interpret {kind} {identifier!r} (of type "
            f"{type(identifier).__name__}). Expected None, a name such as {example_name!r}, "
            f"a dict from serialize(), {instance_hint}, or {callable_hint}.")

    get.__doc__ = (f"The {kind} for `identifier`: None -> None; a name -> a default instance; "
                   f"a `serialize` dict -> that {kind}; a class -> a new instance; an "
                   f"instance or other callable -> itself.")
    return get
