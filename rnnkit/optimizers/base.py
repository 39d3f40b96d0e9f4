"""The optimizer base class (`Optimizer`), its state (`OptimizerState`) and gradient
clipping: the step order every rnnkit optimizer shares (see `rnnkit.optimizers`)."""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnnkit.optimizers.schedules import LearningRateSchedule, deserialize_schedule, \
    serialize_schedule
from rnnkit.utils.names import to_snake_case

__all__ = ["Optimizer", "OptimizerState", "clip_by_norm", "clip_by_global_norm"]


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
        self.name = name or self._default_name or to_snake_case(type(self).__name__)
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
