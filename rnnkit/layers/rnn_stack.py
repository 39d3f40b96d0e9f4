"""Consecutive recurrent layers as one kernel call (`rnnkit.core.fused.stacked_rnn`).

A model graph (`rnnkit.models.functional.Graph`) hands a chain of layers here, each layer's
only input the previous layer's only output, and runs the layers one by one when
`stack_call` says the chain does not qualify. What qualifies is `stack_setup`'s rule, the
only place that says it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit import config
from rnnkit.core import fused
from rnnkit.layers.rnn import RNN


def chainable(layer) -> bool:
    """The static half of the rule, known when the graph is built: an `RNN` layer whose
    call output is one array (no `return_state`), processing in time order."""
    return (isinstance(layer, RNN) and not layer.return_state and not layer.go_backwards
            and not layer.time_major and not layer.stateful)


def stack_setup(layers, x, training=None):
    """`(cfgs, params, states)` for running `layers` (bottom first) over `x` (B, T, D) as
    one stacked kernel call, or None. The rule, all of it:

    - at least 2 layers, each `chainable`, built, and every layer but the last returning
      its sequence (the last may return either);
    - inference: `training` is not true (a gradient through the call still works: the
      stacked call has a custom VJP over the per-layer loops);
    - no mask and no initial states reach the chain (the graph checks both);
    - each layer's own fused kernel applies to it (`RNN.fused_setup`: a built-in cell,
      float32, no activity regularizer; dropout is off at inference);
    - the kernel side agrees (`fused.stack_ready`: one cell kind with the same
      activations, the native engine on one device, a `stack` kernel that builds, a core
      per layer that a batch split would leave idle, enough work for the threads);
    - `rnnkit.config.stacked_layers_enabled()` (on by default; `set_stacked_layers(False)`
      or `RNNKIT_STACKED_LAYERS=0` turns it off).
    """
    if (not config.stacked_layers_enabled() or len(layers) < 2 or training
            or not all(chainable(layer) and layer.built
                                               for layer in layers)
            or not all(layer.return_sequences for layer in layers[:-1])
            or x.dtype != jnp.float32):
        return None
    cfgs, params, states = [], [], []
    seq = x
    for layer in layers:
        setup = layer.fused_setup(seq, None, training)
        if setup is None:
            return None
        cfgs.append(setup[0])
        params.append(setup[1])
        states.append(setup[2])
        units = setup[2][0].shape[-1]
        seq = jax.ShapeDtypeStruct((x.shape[0], x.shape[1], units), jnp.float32)
    if not fused.stack_ready(cfgs, params, x.shape):
        return None
    return cfgs, params, states


def stack_call(layers, x, training=None):
    """The last layer's output for `layers` run over `x` as one stacked call (what calling
    them one after the other returns), or None when `stack_setup` says they do not
    qualify."""
    setup = stack_setup(layers, x, training)
    if setup is None:
        return None
    cfgs, params, states = setup
    hs, finals = fused.stacked_rnn(cfgs, params, x, states)
    return hs if layers[-1].return_sequences else finals[-1][0]
