"""The cell-kind registry: `KERNELS` maps a kind name to its `CellKernel` spec.

Everything rnnkit knows about one kind of recurrent cell lives in one module of this package
(`lstm.py`, `gru.py`, `gru_v1.py`, `simple_rnn.py`), which builds one frozen
`CellKernel` named `KERNEL`; the registry line below makes it known. The fused sequence
kernel and its custom VJP (`rnnkit.core.fused`), the planner (`rnnkit.core.policy`), the
engine check (`rnnkit.core.engines`) and `rnnkit.explain` read only these specs.

Adding a cell kind
------------------
1. Write its pure step in `rnnkit/core/cells.py` (or in the kind's module):
   `(params, state, x_t) -> (state, y_t)`.
2. Create `rnnkit/core/kernels/<kind>.py` with `KERNEL = CellKernel(...)`:

   Required fields
     kind           the registry key ("min_gru"); also what a layer's cell names
     gates          gate blocks side by side in the kernels, (D, gates * units)
     states         state names in order, ("h",) or ("h", "c"); the output is states[0]
                    and states always travel as a tuple of that length
     step           the pure step above
     equations      what `explain` prints, in the code's gate order: a tuple of lines,
                    each a str or an (expression, comment) pair, with placeholders
                    {u} {u2} {u3} {u4} {act} {ract} {bias} {bias_in} {bias_rec} (see
                    `spec.CellKernel`)
     weight_shapes  `(input_dim, units, use_bias) -> {"kernel": shape, ...}` (None for an
                    absent weight); `spec.dense_weight_shapes(gates)` covers the Keras
                    kernel / recurrent_kernel / bias layout; `param_count` derives from it
   Optional fields (defaults in brackets)
     xla            [None] `SequenceKernels(primal, forward, backward)`: fused XLA loops
                    with a custom VJP (contract in `spec.SequenceKernels`). Without them
                    the layer runs its step under `rnnkit.core.scan.scan_rnn`, or its own
                    sequence function (e.g. a parallel scan), and never calls `fused`.
     native         [None] the same triple calling C++ handlers through
                    `rnnkit.core.native.ffi.call`, with `source="<kind>.cc"` (a file in
                    rnnkit/core/native; the loader builds it on first use)
     batch_major    [False] the native loops read batch-major x (B, T, D) and write the
                    output sequence (B, T, H) in place (no transpose on either side)
     concat         [False] one [x_t, h] @ [[W], [U]] dot per step pays off at batch <= 8
     native_activations  [("tanh", "sigmoid", "linear")] activation kinds the native
                    loops implement (others plan the XLA engine)
     explain        [ExplainText()] how `explain` words the kind: gate order, what the
                    activations apply to
3. Import it below (one line) and add it to `_MODULES` (one line).

A kind with only the required fields is registrable: `policy.plan` and
`engines.available_engines` then report the engines it has (none), and its layer uses the
generic scan or its own sequence function.
"""

from __future__ import annotations

from rnnkit.core.kernels.spec import CellKernel, SequenceKernels, dense_weight_shapes

# the registered kinds: one import and one _MODULES line each
from rnnkit.core.kernels import conv_lstm
from rnnkit.core.kernels import gru
from rnnkit.core.kernels import gru_v1
from rnnkit.core.kernels import lru
from rnnkit.core.kernels import lstm
from rnnkit.core.kernels import mingru
from rnnkit.core.kernels import minlstm
from rnnkit.core.kernels import simple_rnn

__all__ = ["CellKernel", "SequenceKernels", "KERNELS", "get_kernel", "register",
           "dense_weight_shapes"]

_MODULES = (
    simple_rnn,
    lstm,
    gru,
    gru_v1,
    mingru,
    minlstm,
    lru,
    conv_lstm,
)

KERNELS: dict[str, CellKernel] = {}


def register(kernel: CellKernel) -> CellKernel:
    """Adds `kernel` to `KERNELS` under `kernel.kind`; a kind is registered once."""
    if not isinstance(kernel, CellKernel):
        raise TypeError(f"register expects a CellKernel. Received: {kernel!r}.")
    if kernel.kind in KERNELS and KERNELS[kernel.kind] is not kernel:
        raise ValueError(f"Cell kind {kernel.kind!r} is already registered (by "
                         f"{KERNELS[kernel.kind].step!r}); pick another kind name.")
    KERNELS[kernel.kind] = kernel
    return kernel


for _module in _MODULES:
    register(_module.KERNEL)


def get_kernel(kind) -> CellKernel:
    """The spec of `kind` (a registered name; a `CellKernel` is returned as is)."""
    if isinstance(kind, CellKernel):
        return kind
    try:
        return KERNELS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown cell kind {kind!r}. Registered kinds: {', '.join(sorted(KERNELS))}. "
            f"A new kind is one module in rnnkit/core/kernels plus one line in its "
            f"registry (see rnnkit.core.kernels).") from None
