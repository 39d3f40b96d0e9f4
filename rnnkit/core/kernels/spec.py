"""What rnnkit knows about one kind of recurrent cell, as one frozen value: `CellKernel`.

Each cell kind's module in this package builds one `CellKernel` and the registry
(`rnnkit.core.kernels`) maps its `kind` to it. Dispatch (`rnnkit.core.fused`), planning
(`rnnkit.core.policy`), the engine check and `rnnkit.explain` read these fields; none of
them asks which cell it is.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

ENGINES = ("xla", "native")


@dataclasses.dataclass(frozen=True, eq=False)
class SequenceKernels:
    """The three loops of one engine over a whole sequence (the custom VJP of
    `rnnkit.core.fused` calls them). States are ALWAYS tuples, `(h,)` or `(h, c)`:

        primal(cfg, params, xs, state0, mask, rm) -> (hs or None, final_state)
        forward(cfg, params, xs, state0, mask, rm) -> ((hs or None, final_state), residuals)
        backward(cfg, params, xs, state0, mask, rm, residuals, d_hs, d_final)
            -> (d_params, d_xs, d_state0, d_rm or None)

    `cfg` is a `rnnkit.core.fused.SeqConfig`; xs (T, B, D) time-major, in processing order,
    input dropout applied; mask (T, B) bool or None; rm (B, H) recurrent-dropout multiplier
    or None; hs (T, B, H) the output after every step (None when `cfg.return_sequences` is
    False). With `cfg.batch_major` the sequences xs, hs (and their gradients d_xs, d_hs) are
    batch-major instead, (B, T, D) and (B, T, H); mask stays (T, B).
    """

    primal: Callable
    forward: Callable
    backward: Callable
    # native engine only: the C++ file in rnnkit/core/native that holds these loops
    source: Optional[str] = None
    # optional, float32: the inference loops of both directions of a Bidirectional layer in
    # one call, xs batch-major (B, T, D), no mask, no recurrent dropout:
    #   bidirectional(cfg, params_f, params_b, xs, state0_f, state0_b)
    #     -> (hs (B, T, 2H) [forward | backward, both in time order] or None, final_f, final_b)
    bidirectional: Optional[Callable] = None
    # optional, float32 inference: L >= 2 layers of this kind stacked (each layer's sequence
    # the next one's input) in one call from `stack_source`, xs batch-major, no mask, no
    # recurrent dropout:
    #   stack(cfgs, params, xs, states0) -> (hs (B, T, H_L) of the last layer or None,
    #                                          finals: one state tuple per layer)
    stack: Optional[Callable] = None
    stack_source: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class ExplainText:
    """How `rnnkit.explain` words a cell kind (its equations are `CellKernel.equations`)."""

    gate_order: str = ""  # the gate blocks of the kernels, e.g. "i, f, c, o"
    activation_use: str = "the state update"  # what `activation` is applied to
    recurrent_gates: str = "the gates"  # what `recurrent_activation` is applied to
    state_note: str = ""  # after "size of the state" when explaining `units`


@dataclasses.dataclass(frozen=True, eq=False)
class CellKernel:
    """One kind of recurrent cell. Required: kind, gates, states, step, equations,
    weight_shapes; everything else is optional (see `rnnkit.core.kernels` for how to add one).
    """

    kind: str  # registry key, e.g. "lstm"
    gates: int  # gate blocks side by side in kernel / recurrent_kernel: (D, gates * H)
    states: tuple  # state names in order, e.g. ("h", "c"); the output is states[0]
    step: Callable  # the pure step of rnnkit.core.cells: (params, state, x_t) -> (state, y_t)
    # what `explain` prints, in the code's gate order: lines, each a str or an
    # (expression, comment) pair; explain fills in {u}, {u2}, {u3}, {u4} (multiples of
    # units), {act}, {ract} (activation names), {bias}, {bias_in}, {bias_rec} (" + bias",
    # " + bias[0]", " + bias[1]", or "" without bias)
    equations: tuple
    # weight name -> shape (None: absent), from the cell's configuration; the dense kinds take
    # (input_dim, units, use_bias), other kinds their own arguments (e.g. kernel size)
    weight_shapes: Callable
    xla: Optional[SequenceKernels] = None  # fused XLA loops (None: the generic scan runs)
    native: Optional[SequenceKernels] = None  # C++ loops (None: XLA or the scan runs)
    # native loops read batch-major x (B, T, D) and write batch-major hs (B, T, H) in place
    # (and the same for their gradients), so a layer transposes neither
    batch_major: bool = False
    # one [x_t, h] @ [[W], [U]] dot per step pays off at small batch (rnnkit.core.policy)
    concat: bool = False
    # activation kinds (`Act.kind`) the native loops implement
    native_activations: tuple = ("tanh", "sigmoid", "linear")
    # the C++ file (rnnkit/core/native) of bf16 variants of the native loops: the same
    # handlers with a "_bf16" infix (rnnkit_<kind>_bf16_forward, ...), matmuls on the AMX
    # tile unit with bf16 operands and float32 accumulation; the native loops call them when
    # the plan's compute_dtype is "bfloat16" (the mixed_bfloat16 policy). None: XLA runs bf16.
    native_bf16_source: Optional[str] = None
    # native_bf16_source also has `rnnkit_<kind>_bf16x3_forward`: the float32 forward with
    # each matmul as three bf16 tile products of the operands' hi / lo split (each product
    # within ~1e-5 of exact, relative); planned under
    # `rnnkit.config.set_float32_matmul_precision("high")` (rnnkit.core.policy, rule 8)
    native_f32_split: bool = False
    # the parameter count as text, e.g. "4H·(D + H + 1)"
    param_formula: str = ""
    explain: ExplainText = ExplainText()

    @property
    def n_states(self) -> int:
        return len(self.states)

    def param_count(self, *args, **kwargs) -> int:
        """Number of trainable weights of one cell; arguments as `weight_shapes`."""
        return sum(math.prod(s) for s in self.weight_shapes(*args, **kwargs).values()
                   if s is not None)

    def engines(self) -> tuple:
        """The engines that have sequence kernels for this kind, e.g. ("xla", "native")."""
        return tuple(e for e in ENGINES if getattr(self, e) is not None)

    def sequence_kernels(self, engine: str) -> SequenceKernels:
        loops = getattr(self, engine, None) if engine in ENGINES else None
        if loops is None:
            raise ValueError(
                f"Cell kind {self.kind!r} has no {engine!r} sequence kernels (it has: "
                f"{', '.join(self.engines()) or 'none'}). Plan the call with one of those "
                f"engines, or run the cell step under rnnkit.core.scan.scan_rnn.")
        return loops


def dense_weight_shapes(gates: int, bias_rows: int = 0) -> Callable:
    """`weight_shapes` of a cell with kernel (D, gates*H), recurrent_kernel (H, gates*H) and
    bias (gates*H,) (or (bias_rows, gates*H) when bias_rows > 0)."""

    def shapes(input_dim: int, units: int, use_bias: bool = True) -> dict:
        g = gates * units
        bias = ((bias_rows, g) if bias_rows else (g,)) if use_bias else None
        return {"kernel": (input_dim, g), "recurrent_kernel": (units, g), "bias": bias}

    return shapes
