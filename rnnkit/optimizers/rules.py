"""The Keras 3 optimizers: SGD, Adam, AdamW, RMSprop, Adagrad (each one update rule)."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from rnnkit.optimizers.base import Optimizer

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


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
