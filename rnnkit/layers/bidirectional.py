"""`Bidirectional`: a recurrent layer run forwards and backwards, outputs merged."""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.core import fused
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn import RNN
from rnnkit.layers.serialization import deserialize, serialize

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _copy_layer(layer, **overrides):
    config = layer.get_config()
    config.update(overrides)
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Runs `layer` over the sequence forwards and a copy backwards.

    `merge_mode`: "concat" (default, features side by side), "sum", "mul", "ave", or None
    (a list [forward, backward]). The backward outputs are flipped back to time order
    before merging. `initial_state` lists the forward states first, then the backward ones;
    with return_state the states come back in the same order.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, RNN):
            raise ValueError(
                "Bidirectional expects a recurrent layer such as LSTM(64) or RNN(cell). "
                f"Received: {layer!r}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Bidirectional merge_mode must be one of 'concat', 'sum', 'mul', 'ave' or "
                f"None. Received: merge_mode={merge_mode!r}.")
        super().__init__(**kwargs)
        base = layer.name.removeprefix("forward_").removeprefix("backward_")
        self.forward_layer = _copy_layer(layer, name="forward_" + base)
        if backward_layer is None:
            self.backward_layer = _copy_layer(layer, name="backward_" + base,
                                              go_backwards=not layer.go_backwards)
        else:
            if not isinstance(backward_layer, RNN):
                raise ValueError("Bidirectional `backward_layer` must be a recurrent layer. "
                                 f"Received: {backward_layer!r}.")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(
                    "Bidirectional: `backward_layer` must process the sequence in the other "
                    f"direction: create it with go_backwards={not layer.go_backwards}.")
            for attr in ("return_sequences", "return_state", "stateful"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(
                        f"Bidirectional: forward and backward layers must have the same "
                        f"`{attr}`; received {getattr(layer, attr)} and "
                        f"{getattr(backward_layer, attr)}.")
            self.backward_layer = backward_layer
        # Padded steps output zeros in both directions (as Keras), so that the flipped
        # backward sequence lines up with the forward one at the padding.
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = layer.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, input_shape):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(input_shape)
                sub.built = True
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _check_inputs(self, args, kwargs):
        self.forward_layer._check_inputs(args[:1], {k: v for k, v in kwargs.items()
                                                    if k != "initial_state"})

    def call(self, sequences, initial_state=None, mask=None, training=None):
        fw_state = bw_state = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [
                initial_state]
            # Keras' split: the first half (rounded down) goes forward, the rest backward,
            # so a GRU forward and an LSTM backward layer take [h_fw, h_bw, c_bw]; each
            # layer then checks the count it gets.
            half = len(states) // 2
            fw_state, bw_state = states[:half], states[half:]
        both = None if mask is not None else self._fused_call(sequences, fw_state, bw_state,
                                                               training)
        if both is not None:
            fw, bw, fw_states, bw_states, _ = both
        else:
            fw = self.forward_layer(sequences, initial_state=fw_state, mask=mask,
                                    training=training)
            bw = self.backward_layer(sequences, initial_state=bw_state, mask=mask,
                                     training=training)
            if self.return_state:
                fw, fw_states = fw[0], list(fw[1:])
                bw, bw_states = bw[0], list(bw[1:])
            if self.return_sequences:
                time_axis = 0 if self.forward_layer.time_major else 1
                bw = jnp.flip(bw, time_axis)
        if both is not None and self.merge_mode == "concat" and self.return_sequences:
            out = [both[4]]  # the kernel wrote [forward | backward] side by side
        elif self.merge_mode == "concat":
            out = [jnp.concatenate([fw, bw], axis=-1)]
        elif self.merge_mode == "sum":
            out = [fw + bw]
        elif self.merge_mode == "ave":
            out = [(fw + bw) / 2]
        elif self.merge_mode == "mul":
            out = [fw * bw]
        else:
            out = [fw, bw]
        if self.return_state:
            return out + fw_states + bw_states
        return out[0] if len(out) == 1 else out

    def _fused_call(self, sequences, fw_state, bw_state, training):
        """Both directions in one kernel call (`rnnkit.core.fused.bidirectional_rnn`) when
        the two layers are the same fused recurrence run in opposite directions; returns
        `(fw, bw, fw_states, bw_states, hs)` as the two layer calls would (bw in time order;
        hs: both sequences side by side, or None), or None when it does not apply."""
        fw_layer, bw_layer = self.forward_layer, self.backward_layer
        if (fw_layer.go_backwards or type(fw_layer.cell) is not type(bw_layer.cell)
                or fw_layer.cell.state_size != bw_layer.cell.state_size):
            return None
        fw_setup = fw_layer.fused_setup(sequences, fw_state, training)
        bw_setup = bw_layer.fused_setup(sequences, bw_state, training)
        if fw_setup is None or bw_setup is None or fw_setup[0] != bw_setup[0]:
            return None
        cfg, params_f, states_f = fw_setup
        if not fused.bidirectional_ready(cfg):
            return None
        hs, final_f, final_b = fused.bidirectional_rnn(cfg, params_f, bw_setup[1], sequences,
                                                       states_f, bw_setup[2])
        if hs is None:
            fw, bw = final_f[0], final_b[0]
        else:
            H = final_f[0].shape[-1]
            fw, bw = hs[..., :H], hs[..., H:]
        return fw, bw, list(final_f), list(final_b), hs

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        masks = [out_mask] if self.merge_mode is not None else [out_mask, out_mask]
        if self.return_state:
            n = len(self.forward_layer._flat(self.forward_layer._state_sizes()))
            return masks + [None] * (2 * n)
        return masks[0] if len(masks) == 1 else masks

    def reset_states(self, states=None):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    reset_state = reset_states

    def get_config(self):
        config = super().get_config()
        config.update(layer=serialize(self.forward_layer), merge_mode=self.merge_mode,
                      backward_layer=serialize(self.backward_layer))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize(config["backward_layer"])
        return cls(**config)
