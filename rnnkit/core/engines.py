"""Which engines can run a cell kind's sequence kernels in this process.

`rnnkit.core.policy.plan` is a pure function of shapes and flags; it gets the answer of
`available_engines` passed in. This is where native code is built and loaded (once per
process and source, by `rnnkit.core.native.load`), never while planning.
"""

from __future__ import annotations

import jax

from rnnkit import config
from rnnkit.core import native
from rnnkit.core.kernels import get_kernel


def native_available(kind) -> bool:
    """True when the native loops of `kind` (a name or `CellKernel`) can run here: the
    native kernels are on (`rnnkit.config.set_native_kernels`), the backend is the CPU, the
    kind has native loops, and their source builds and loads (the first call may compile)."""
    loops = get_kernel(kind).native
    if loops is None or not config.native_kernels_enabled():
        return False
    if jax.default_backend() != "cpu":
        return False
    return native.load(loops.source)


def native_bf16_available(kind) -> bool:
    """True when the bf16 (AMX) variants of `kind`'s native loops can run here: as
    `native_available`, plus the kind has them and the CPU has AMX-BF16 and AVX512-BF16."""
    kernel = get_kernel(kind)
    source = kernel.native_bf16_source
    if source is None or not native_available(kernel):
        return False
    if not {"amx_bf16", "amx_tile", "avx512_bf16"} <= native.cpu_flags():
        return False
    return native.load(source)


def available_engines(kind, compute_dtype: str = "float32") -> tuple:
    """The engines that can run `kind`'s sequence kernels here, e.g. ("xla", "native");
    with compute_dtype "bfloat16" also "native_bf16" when the bf16 native loops can run,
    and with "float32" also "native_bf16x3" when the kind has the split float32 forward
    (`CellKernel.native_f32_split`), it can run and the float32 matmul precision is "high"
    (the bf16 loops are only built and loaded when asked for)."""
    kernel = get_kernel(kind)
    out = ("xla",) if kernel.xla is not None else ()
    out += ("native",) if native_available(kernel) else ()
    if compute_dtype == "bfloat16" and native_bf16_available(kernel):
        out += ("native_bf16",)
    if (compute_dtype == "float32" and kernel.native_f32_split
            and config.float32_matmul_precision() == "high" and native_bf16_available(kernel)):
        out += ("native_bf16x3",)
    return out
