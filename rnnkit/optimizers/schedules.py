"""Learning-rate schedules (Keras 3 `keras.optimizers.schedules`): callables `step -> lr`
usable as `learning_rate=`; jit-able (jax.numpy on the step)."""

from __future__ import annotations

import math

import jax.numpy as jnp

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
           "serialize", "deserialize"]


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


serialize = serialize_schedule
deserialize = deserialize_schedule
