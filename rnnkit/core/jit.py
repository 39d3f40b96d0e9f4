"""`jax.jit` wrappers for the model steps (rnnkit.models.training)."""

from __future__ import annotations

import jax


def jit_forwarding_values(step):
    """`jax.jit(step)` for `step(values, *args) -> (*outputs, new_values)` whose `new_values`
    are mostly the input `values` unchanged (an inference step returns every variable, but
    only stateful layers change theirs).

    Unchanged entries are not outputs of the compiled program (they come back as None from
    it, and the wrapper puts the input arrays themselves in their place). With plain
    `jax.jit`, XLA copies every one of them, and on CPU those extra independent copies make
    the thunk executor run the whole program on its thread pool instead of inline: batch-1
    GRU `predict_on_batch` 0.17 -> 0.08 ms (benchmarks/PERF_NOTES.md). Same results as
    `jax.jit(step)`.
    """

    def inner(values, *args):
        *outputs, new_values = step(values, *args)
        new_values = [None if n is v else n for n, v in zip(new_values, values)]
        return (*outputs, new_values)

    jitted = jax.jit(inner)

    def call(values, *args):
        *outputs, new_values = jitted(values, *args)
        new_values = [v if n is None else n for n, v in zip(new_values, values)]
        return (*outputs, new_values)

    call.lower = jitted.lower
    call.__wrapped__ = step
    return call
