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


def available_engines(kind) -> tuple:
    """The engines that can run `kind`'s sequence kernels here, e.g. ("xla", "native")."""
    kernel = get_kernel(kind)
    out = ("xla",) if kernel.xla is not None else ()
    return out + (("native",) if native_available(kernel) else ())
