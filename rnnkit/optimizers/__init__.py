"""Keras 3 optimizers (SGD, Adam, RMSprop, Adagrad, AdamW) on JAX and optax.

Each optimizer follows the update rule of the Keras 3.15 class with the same name,
including the order in which Keras does things in one step:

    lr    = learning_rate, or schedule(iterations)   (iterations starts at 0)
    grads = clip(grads)             clipnorm (per tensor) | global_clipnorm | clipvalue
    w     = w - w * weight_decay * lr                 (only if weight_decay is set)
    w     = optimizer-specific update (see each class), using grads and lr
    iterations += 1

**Pure API** (use this inside one `jax.jit` train step; there is no Python-side state)::

    opt = Adam(learning_rate=1e-3)
    state = opt.init(params)                          # params: any pytree of arrays
    params, state = opt.apply(grads, state, params)   # pure and jit-able

    tx = opt.transformation()                         # the same rule as an optax transformation
    updates, state = tx.update(grads, state, params)  # updates are *added* to params
    params = optax.apply_updates(params, updates)

**Changing the learning rate without recompiling.** The learning rate is a float32
scalar inside the state (`state.learning_rate`), not a constant baked into the
compiled step. A callback such as ReduceLROnPlateau does, between epochs::

    state = opt.set_learning_rate(state, 1e-4)        # next step uses 1e-4, no retrace

With a schedule, `state.learning_rate` is the value the next step will use and is
recomputed from `state.iterations`; it cannot be set (TypeError, as in Keras).

**Keras-style eager API**::

    opt.apply_gradients([(grad, variable), ...])  # variable: `.value` and `.assign(v)`
    opt.iterations, opt.learning_rate             # read; learning_rate is also settable

The eager API keeps its state in `opt.state`. A training loop that uses the pure API
can store its state there too (`opt.state = state`) so that `opt.iterations` and
`opt.learning_rate` (getter and setter) see and change it.
"""


from __future__ import annotations

from rnnkit.optimizers import schedules
from rnnkit.optimizers.base import (Optimizer, OptimizerState, clip_by_global_norm,  # noqa: F401
                                    clip_by_norm)
from rnnkit.optimizers.rules import SGD, Adagrad, Adam, AdamW, RMSprop
from rnnkit.optimizers.schedules import LearningRateSchedule  # noqa: F401

__all__ = [
    "Optimizer",
    "OptimizerState",
    "SGD",
    "Adam",
    "RMSprop",
    "Adagrad",
    "AdamW",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]


# --------------------------------------------------------------------------------------
# Lookup and serialization
# --------------------------------------------------------------------------------------

_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad,
               "adamw": AdamW}


def _unknown_optimizer(name):
    return ValueError(f"Unknown optimizer {name!r}. Valid names: "
                      f"{', '.join(sorted(_OPTIMIZERS))}; or pass an Optimizer instance.")


def serialize(optimizer):
    """`{"class_name": ..., "config": ...}` for an optimizer."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    """Inverse of `serialize` (class name matched case-insensitively)."""
    cls = _OPTIMIZERS.get(str(config.get("class_name", "")).lower())
    if cls is None:
        raise _unknown_optimizer(config.get("class_name"))
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """An Optimizer from a name ("adam", "SGD", ...: case-insensitive), a config dict,
    an Optimizer class or instance. None gives None."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise _unknown_optimizer(identifier)
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(
        f"Could not interpret optimizer identifier {identifier!r} (type "
        f"{type(identifier).__name__}). Pass one of {', '.join(sorted(_OPTIMIZERS))} "
        "or an Optimizer instance."
    )
