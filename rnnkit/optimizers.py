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

import functools
import inspect
import math
import re
import sys
import types
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

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
# Learning-rate schedules (exposed as the module `rnnkit.optimizers.schedules`)
# --------------------------------------------------------------------------------------


class LearningRateSchedule:
    """Base class: a callable `step -> learning rate` (float32 scalar, jit-able).

    `step` is the optimizer's `iterations` before the update (0 on the first step).
    Subclasses implement `__call__(step)` with jax.numpy and `get_config()`.
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must implement "
            "`__call__(self, step)`."
        )

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must implement "
            "`get_config()` to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_decay_steps(value, arg="decay_steps"):
    if value <= 0:
        raise ValueError(f"Argument `{arg}` must be > 0. Received: {arg}={value}")


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    With `staircase=True` the exponent is `floor(step / decay_steps)`.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        f32 = jnp.float32
        p = jnp.asarray(step, f32) / jnp.asarray(self.decay_steps, f32)
        if self.staircase:
            p = jnp.floor(p)
        return jnp.asarray(self.initial_learning_rate, f32) * jnp.power(
            jnp.asarray(self.decay_rate, f32), p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, `values[-1]` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay needs exactly one more value than boundaries. "
                f"Received: boundaries={boundaries} (length {len(boundaries)}) and "
                f"values={values} (length {len(values)})."
            )
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        step = jnp.asarray(step)
        bounds = [jnp.asarray(b).astype(step.dtype) for b in self.boundaries]
        vals = [jnp.asarray(v, jnp.float32) for v in self.values]
        out = (step <= bounds[0]).astype(jnp.float32) * vals[0]
        out = out + (step > bounds[-1]).astype(jnp.float32) * vals[-1]
        for low, high, v in zip(bounds[:-1], bounds[1:], vals[1:-1]):
            out = out + ((step > low) & (step <= high)).astype(jnp.float32) * v
        return out

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with optional linear warmup (Keras formula).

    Without warmup: `s = min(step, decay_steps)`,
    `lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)`.
    With `warmup_target`: linear from `initial_learning_rate` to `warmup_target` over
    `warmup_steps`, then the cosine decay above starting from `warmup_target`.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_steps, from_lr):
        fraction = step / decay_steps
        cosine = 0.5 * (1.0 + jnp.cos(jnp.asarray(math.pi, jnp.float32) * fraction))
        return from_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        f32 = jnp.float32
        initial = jnp.asarray(self.initial_learning_rate, f32)
        decay_steps = jnp.asarray(self.decay_steps, f32)
        step = jnp.asarray(step, f32)
        if self.warmup_target is None:
            return self._decay(jnp.minimum(step, decay_steps), decay_steps, initial)
        target = jnp.asarray(self.warmup_target, f32)
        warmup_steps = jnp.asarray(self.warmup_steps, f32)
        step = jnp.minimum(step, decay_steps + warmup_steps)
        warm = (target - initial) * (step / warmup_steps) + initial
        decayed = self._decay(step - warmup_steps, decay_steps, target)
        return jnp.where(step < warmup_steps, warm, decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize_schedule(schedule):
    """`{"class_name": ..., "config": ...}` for a built-in `LearningRateSchedule`."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize_schedule(config):
    """Inverse of `serialize_schedule`."""
    cls = _SCHEDULES.get(config.get("class_name"))
    if cls is None:
        raise ValueError(
            f"Unknown learning rate schedule {config.get('class_name')!r}. "
            f"Known schedules: {', '.join(sorted(_SCHEDULES))}."
        )
    return cls.from_config(dict(config.get("config", {})))


schedules = types.ModuleType(
    __name__ + ".schedules",
    "Learning rate schedules: callables `step -> lr` usable as `learning_rate=`.",
)
for _obj in (LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, CosineDecay):
    setattr(schedules, _obj.__name__, _obj)
schedules.serialize = serialize_schedule
schedules.deserialize = deserialize_schedule
sys.modules[schedules.__name__] = schedules  # `import rnnkit.optimizers.schedules` works


# --------------------------------------------------------------------------------------
# State and gradient clipping
# --------------------------------------------------------------------------------------


class OptimizerState(NamedTuple):
    """Optimizer state (a pytree, so it passes through `jax.jit`).

    iterations:    int32 scalar, number of updates done so far.
    learning_rate: float32 scalar, the learning rate the *next* update will use.
    slots:         dict slot name -> pytree shaped like params (e.g. "momentum").
    """

    iterations: Any
    learning_rate: Any
    slots: Any


def clip_by_norm(g, clipnorm):
    """Keras `clipnorm`: `g * clipnorm / max(||g||_2, clipnorm)` for one tensor."""
    l2sum = jnp.sum(jnp.square(g), keepdims=True)
    positive = l2sum > 0
    l2norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, l2sum, 1.0)), l2sum)
    return (g * clipnorm) / jnp.maximum(l2norm, clipnorm)


def clip_by_global_norm(grads, clipnorm):
    """Keras `global_clipnorm`: scale every tensor by `clipnorm / max(global_norm, clipnorm)`.

    `global_norm = sqrt(sum_i ||g_i||^2)`; a non-finite global norm makes every
    gradient NaN, as in Keras.
    """
    if not grads:
        return grads
    norm = jnp.sqrt(jnp.sum(jnp.stack(
        [jnp.sum(jnp.square(g.astype(jnp.float32))) for g in grads])))
    scale = clipnorm * jnp.minimum(1.0 / norm, 1.0 / clipnorm) + (norm - norm)
    return [g * scale.astype(g.dtype) for g in grads]


# --------------------------------------------------------------------------------------
# Base optimizer
# --------------------------------------------------------------------------------------


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _standardize_learning_rate(learning_rate):
    """A float, or a callable `step -> lr` (schedule); raises for anything else."""
    if callable(learning_rate):
        if not isinstance(learning_rate, LearningRateSchedule):
            try:
                inspect.signature(learning_rate).bind(0)
            except TypeError:
                raise TypeError(
                    "A callable `learning_rate` must take the current step, like a "
                    "schedule (`lambda step: ...`, an optax schedule or "
                    "`rnnkit.optimizers.schedules.*`). Keras also accepts zero-argument "
                    "callables; rnnkit does not, because the learning rate must be "
                    f"computable inside jit from the step. Received: {learning_rate!r}."
                ) from None
            except ValueError:  # no signature available (builtins): accept
                pass
        return learning_rate
    if isinstance(learning_rate, bool) or not isinstance(
            learning_rate, (int, float, np.integer, np.floating, np.ndarray, jax.Array)):
        raise ValueError(
            "Argument `learning_rate` should be a float, a LearningRateSchedule or a "
            "callable `step -> lr` (e.g. an optax schedule). "
            f"Received: learning_rate={learning_rate!r} of type {type(learning_rate).__name__}."
        )
    return float(learning_rate)


class Optimizer:
    """Base class. Subclasses define `_slot_specs` and `_update_leaf`.

    Common keyword arguments (Keras 3 names and defaults):

    * `learning_rate`: float, `LearningRateSchedule`, or any callable `step -> lr`
      (optax schedules work).
    * `weight_decay`: float or None. Decoupled decay `w -= w * weight_decay * lr`,
      applied to every parameter before the optimizer's own update.
    * `clipnorm` (each gradient tensor clipped to this L2 norm), `clipvalue`
      (elementwise clip to [-v, v]), `global_clipnorm` (all gradients scaled together so
      that their joint L2 norm is at most this). At most one of the three; a value
      <= 0 disables clipping, as in Keras.
    * `name`: string.
    * `use_ema`, `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
      `gradient_accumulation_steps`: accepted at their defaults only; other values
      raise NotImplementedError.
    """

    _default_name = None

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored "
                          "(as in Keras 3). Use a learning rate schedule instead.")
        if kwargs:
            raise ValueError(
                f"Argument(s) not recognized by {type(self).__name__}: {sorted(kwargs)}. "
                "Check the spelling against the Keras 3 optimizer arguments."
            )
        for arg, value, default in (("use_ema", use_ema, False),
                                    ("loss_scale_factor", loss_scale_factor, None),
                                    ("gradient_accumulation_steps",
                                     gradient_accumulation_steps, None)):
            if value != default:
                raise NotImplementedError(
                    f"`{arg}={value!r}` is not implemented in rnnkit optimizers. "
                    f"Remove the argument (default {default!r})."
                )
        n_clip = sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm))
        if n_clip > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}. Keep one and pass None for the others."
            )
        self.name = name or self._default_name or _snake_case(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._learning_rate = _standardize_learning_rate(learning_rate)
        self.state = None  # eager state (see module docstring)
        self._variables = None
        self._variable_index = {}
        self._jit_cache = {}

    # ---- subclass hooks ---------------------------------------------------------------

    def _slot_specs(self):
        """Dict slot name -> initial fill value; slots are created like the params."""
        return {}

    def _update_leaf(self, g, slots, lr, iterations, g2=None):
        """One tensor: returns (delta added to w, new slots). `g` is already clipped."""
        raise NotImplementedError

    def _hyper_config(self):
        return {}

    # ---- learning rate ---------------------------------------------------------------

    @property
    def _has_schedule(self):
        return callable(self._learning_rate)

    def _learning_rate_at(self, iterations):
        if self._has_schedule:
            return jnp.asarray(self._learning_rate(iterations), jnp.float32)
        return jnp.asarray(self._learning_rate, jnp.float32)

    def set_learning_rate(self, state, learning_rate):
        """Returns `state` with a new learning rate for the following steps (pure).

        Works on a state inside or outside jit and never triggers recompilation.
        Raises TypeError if the optimizer uses a schedule (as Keras does).
        """
        if self._has_schedule:
            raise TypeError(
                "This optimizer was created with a learning rate schedule, so its "
                "learning rate cannot be set. Create it with a float `learning_rate` "
                "to be able to change it (e.g. from ReduceLROnPlateau)."
            )
        return state._replace(learning_rate=jnp.asarray(learning_rate, jnp.float32))

    def get_learning_rate(self, state):
        """The learning rate the next update with `state` will use (float32 scalar)."""
        return state.learning_rate

    @property
    def learning_rate(self):
        """Current learning rate as a Python float (the schedule's value at `iterations`)."""
        if self.state is not None:
            return float(self.state.learning_rate)
        return float(self._learning_rate_at(jnp.zeros((), jnp.int32)))

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._learning_rate = _standardize_learning_rate(value)
            self._jit_cache.clear()
            if self.state is not None:
                self.state = self.state._replace(
                    learning_rate=self._learning_rate_at(self.state.iterations))
            return
        if self._has_schedule:
            self.set_learning_rate(None, value)  # raises the Keras-style TypeError
        self._learning_rate = _standardize_learning_rate(value)
        if self.state is not None:
            self.state = self.set_learning_rate(self.state, self._learning_rate)

    @property
    def iterations(self):
        """Number of updates done (from `opt.state`; 0 before the first update)."""
        return 0 if self.state is None else int(self.state.iterations)

    # ---- pure API --------------------------------------------------------------------

    def init(self, params):
        """Initial `OptimizerState` for a pytree of parameters."""
        zero = jnp.zeros((), jnp.int32)
        slots = {name: jax.tree.map(lambda p, f=fill: jnp.full_like(p, f), params)
                 for name, fill in self._slot_specs().items()}
        return OptimizerState(iterations=zero, learning_rate=self._learning_rate_at(zero),
                              slots=slots)

    def _clip(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return [jnp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _step(self, grads, state, params, grad_squares=None):
        """Returns (treedef, decays or None, deltas, new_state) for the flat leaves."""
        if self.weight_decay is not None and params is None:
            raise ValueError(
                f"{type(self).__name__} with weight_decay={self.weight_decay} needs the "
                "current params: call update(grads, state, params)."
            )
        g_leaves, treedef = jax.tree.flatten(grads)
        p_leaves = treedef.flatten_up_to(params) if params is not None else None
        slot_leaves = {k: treedef.flatten_up_to(v) for k, v in state.slots.items()}
        iterations = state.iterations
        lr = (self._learning_rate_at(iterations) if self._has_schedule
              else state.learning_rate)
        g_leaves = self._clip([jnp.asarray(g) for g in g_leaves])
        decays, deltas = [], []
        new_slots = {k: [] for k in slot_leaves}
        for i, g in enumerate(g_leaves):
            dtype = p_leaves[i].dtype if p_leaves is not None else g.dtype
            g = g.astype(dtype)
            lr_i = lr.astype(dtype)
            slots_i = {k: v[i] for k, v in slot_leaves.items()}
            g2 = None if grad_squares is None else grad_squares[i]
            if g2 is None:
                delta, leaf_slots = self._update_leaf(g, slots_i, lr_i, iterations)
            else:  # per-occurrence squares of an embedding gradient (rnnkit.core.sparse)
                delta, leaf_slots = self._update_leaf(g, slots_i, lr_i, iterations,
                                                      g2=g2.astype(dtype))
            deltas.append(delta)
            for k, v in leaf_slots.items():
                new_slots[k].append(v)
            if self.weight_decay is not None:
                p = p_leaves[i]
                decays.append(p * jnp.asarray(self.weight_decay, dtype) * lr_i)
        new_iterations = iterations + 1
        new_state = OptimizerState(
            iterations=new_iterations,
            learning_rate=(self._learning_rate_at(new_iterations) if self._has_schedule
                           else state.learning_rate),
            slots={k: treedef.unflatten(v) for k, v in new_slots.items()},
        )
        return treedef, (decays if self.weight_decay is not None else None), deltas, new_state

    def update(self, grads, state, params=None, grad_squares=None):
        """optax-style update: returns `(updates, new_state)`; `params + updates` is the
        Keras result. `params` is required when `weight_decay` is set.

        `grad_squares`: optional flat list (one entry per gradient leaf, None = square the
        gradient) of per-occurrence gradient squares, for embedding tables trained as
        Keras on TensorFlow does (see `rnnkit.core.sparse`)."""
        treedef, decays, deltas, new_state = self._step(grads, state, params, grad_squares)
        if decays is not None:
            deltas = [d - wd for d, wd in zip(deltas, decays)]
        return treedef.unflatten(deltas), new_state

    def apply(self, grads, state, params):
        """One Keras update step: returns `(new_params, new_state)`. Pure; jit-able.

        grads and params: pytrees with the same structure (any shapes)."""
        treedef, decays, deltas, new_state = self._step(grads, state, params)
        p_leaves = treedef.flatten_up_to(params)
        if decays is not None:
            p_leaves = [p - wd for p, wd in zip(p_leaves, decays)]
        new = [(p + d).astype(p.dtype) for p, d in zip(p_leaves, deltas)]
        return treedef.unflatten(new), new_state

    def transformation(self):
        """This optimizer as an `optax.GradientTransformation` (state = OptimizerState)."""
        return optax.GradientTransformation(self.init, self.update)

    # ---- Keras-style eager API ---------------------------------------------------------

    def build(self, variables):
        """Creates the eager state for a list of variables (`.value`, `.assign`)."""
        self._variables = list(variables)
        self._variable_index = {id(v): i for i, v in enumerate(self._variables)}
        self._jit_cache.clear()
        self.state = self.init([jnp.asarray(v.value) for v in self._variables])

    @property
    def variables(self):
        """The variables this optimizer was built with (eager API), or []."""
        return list(self._variables or [])

    def _masked_apply(self, present, grads, state, params):
        new_params, new_state = self.apply(grads, state, params)

        def keep(new, old):
            return [n if p else o for n, o, p in zip(new, old, present)]

        slots = {k: keep(v, state.slots[k]) for k, v in new_state.slots.items()}
        return keep(new_params, params), new_state._replace(slots=slots)

    def apply_gradients(self, grads_and_vars):
        """Keras `apply_gradients`: updates the variables in place; returns `iterations`.

        The first call builds the optimizer for those variables; later calls may pass
        any subset of them. Pairs whose gradient is None are skipped with a warning.
        """
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        if self._variables is None:
            self.build([v for _, v in pairs])
        grads = [None] * len(self._variables)
        missing = []
        for g, v in pairs:
            i = self._variable_index.get(id(v))
            if i is None:
                raise ValueError(
                    f"Unknown variable {getattr(v, 'name', v)!r}: this optimizer was built "
                    f"for {len(self._variables)} other variables. Create a new optimizer "
                    "instance to train a different set of variables."
                )
            if g is None:
                missing.append(getattr(v, "name", repr(v)))
            grads[i] = g
        present = tuple(g is not None for g in grads)
        if not any(present):
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing}; they are "
                          "not updated.")
        params = [jnp.asarray(v.value) for v in self._variables]
        grads = [jnp.zeros_like(p) if g is None else jnp.asarray(g)
                 for g, p in zip(grads, params)]
        fn = self._jit_cache.get(present)
        if fn is None:
            fn = jax.jit(functools.partial(self._masked_apply, present))
            self._jit_cache[present] = fn
        new_params, self.state = fn(grads, self.state, params)
        for keep, v, value in zip(present, self._variables, new_params):
            if keep:
                v.assign(value)
        return self.iterations

    # ---- config ------------------------------------------------------------------------

    def get_config(self):
        """Keras-style config dict; `type(opt).from_config(cfg)` rebuilds the optimizer."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = serialize_schedule(lr)
        elif not callable(lr):
            lr = self.learning_rate
        config = {
            "name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue, "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        config.update(self._hyper_config())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_schedule(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self._learning_rate!r}>"


# --------------------------------------------------------------------------------------
# Concrete optimizers
# --------------------------------------------------------------------------------------


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    momentum == 0:  `w = w - lr * g`
    momentum > 0:   `m = momentum * m - lr * g`;  `w = w + m`
    nesterov:       `m = momentum * m - lr * g`;  `w = w + momentum * m - lr * g`
    """

    _default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name,
                         **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float in [0, 1]. Received: "
                             f"momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def _slot_specs(self):
        return {"momentum": 0.0} if self.momentum != 0 else {}

    def _update_leaf(self, g, slots, lr, iterations, g2=None):
        if self.momentum == 0:
            return -(g * lr), slots
        mom = jnp.asarray(self.momentum, g.dtype)
        m = slots["momentum"] * mom - g * lr
        delta = m * mom - g * lr if self.nesterov else m
        return delta, {"momentum": m}

    def _hyper_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, Keras formulation (epsilon outside the sqrt and not bias-corrected).

        t = iterations + 1
        m = m + (g - m) * (1 - beta_1)              # = beta_1 m + (1 - beta_1) g
        v = v + (g^2 - v) * (1 - beta_2)
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        v_hat = max(v_hat, v)  (amsgrad only; then v_hat replaces v below)
        w = w - alpha * m / (sqrt(v) + epsilon)

    This differs from `optax.adam`, which adds a bias-corrected epsilon.
    """

    _default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name,
                         **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _slot_specs(self):
        specs = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            specs["velocity_hat"] = 0.0
        return specs

    def _update_leaf(self, g, slots, lr, iterations, g2=None):
        dtype = g.dtype
        t = (iterations + 1).astype(dtype)
        beta_1_power = jnp.power(jnp.asarray(self.beta_1, dtype), t)
        beta_2_power = jnp.power(jnp.asarray(self.beta_2, dtype), t)
        alpha = lr * jnp.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m = slots["momentum"] + (g - slots["momentum"]) * (1 - self.beta_1)
        v = slots["velocity"] + ((jnp.square(g) if g2 is None else g2) - slots["velocity"]) * (
            1 - self.beta_2)
        new_slots = {"momentum": m, "velocity": v}
        if self.amsgrad:
            v = jnp.maximum(slots["velocity_hat"], v)
            new_slots["velocity_hat"] = v
        return -((m * alpha) / (jnp.sqrt(v) + self.epsilon)), new_slots

    def _hyper_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras AdamW): before the Adam step,
    `w = w - w * weight_decay * lr`. `weight_decay` defaults to 0.004 and must be set."""

    _default_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         name=name, **kwargs)
        if self.weight_decay is None:
            raise ValueError("AdamW needs a float `weight_decay` (default 0.004). "
                             "Received: weight_decay=None. Use Adam for no decay.")


class RMSprop(Optimizer):
    """RMSprop, Keras formulation (epsilon inside the sqrt).

        v = rho * v + (1 - rho) * g^2
        centered:  mg = rho * mg + (1 - rho) * g;  denom = v - mg^2 + epsilon
        otherwise: denom = v + epsilon
        increment = lr * g / sqrt(denom)
        momentum > 0: m = momentum * m + increment;  w = w - m
        otherwise:    w = w - increment
    """

    _default_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name,
                         **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _slot_specs(self):
        specs = {"velocity": 0.0}
        if self.momentum > 0:
            specs["momentum"] = 0.0
        if self.centered:
            specs["average_gradient"] = 0.0
        return specs

    def _update_leaf(self, g, slots, lr, iterations, g2=None):
        rho = self.rho
        v = rho * slots["velocity"] + (1 - rho) * (jnp.square(g) if g2 is None else g2)
        new_slots = {"velocity": v}
        if self.centered:
            mg = rho * slots["average_gradient"] + (1 - rho) * g
            new_slots["average_gradient"] = mg
            denominator = v - jnp.square(mg) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = (lr * g) / jnp.sqrt(denominator)
        if self.momentum > 0:
            m = self.momentum * slots["momentum"] + increment
            new_slots["momentum"] = m
            return -m, new_slots
        return -increment, new_slots

    def _hyper_config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad, Keras formulation (epsilon inside the sqrt).

        acc = acc + g^2                 (acc starts at initial_accumulator_value)
        w   = w - lr * g / sqrt(acc + epsilon)
    """

    _default_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name,
                         **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_specs(self):
        return {"accumulator": self.initial_accumulator_value}

    def _update_leaf(self, g, slots, lr, iterations, g2=None):
        acc = slots["accumulator"] + (jnp.square(g) if g2 is None else g2)
        delta = -((lr * g) / jnp.sqrt(acc + self.epsilon))
        return delta, {"accumulator": acc}

    def _hyper_config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


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
