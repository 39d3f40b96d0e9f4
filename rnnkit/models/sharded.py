"""The trainer's steps under a distribution (rnnkit.distribution).

Nothing here runs without one: `Runner(None)` passes batches and steps through unchanged.
Under a distribution, a `Runner`

- lays the variables out as the distribution says (once; a no-op when they already are),
- turns each process's NumPy rows of a batch into global arrays split over the batch axis,
- traces the steps with that axis as `rnnkit.core.sharding`'s batch split (so each layer's
  recurrence runs per device under `shard_map`, the native CPU loops included), and pins
  the updated variables and optimizer state to their layouts,
- reads back predictions as this process's own rows.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils

from rnnkit.core import sharding as core_sharding
from rnnkit.distribution import distribution
from rnnkit.distribution import placement
from rnnkit.distribution.processes import is_multi_process, local_rows


class Runner:
    """How the trainer feeds and runs steps under `dist` (None: a single device)."""

    def __init__(self, dist):
        self.dist = dist

    @classmethod
    def current(cls):
        return cls(distribution())

    @staticmethod
    def distributed() -> bool:
        return distribution() is not None

    @staticmethod
    def host(tree):
        """Step outputs as NumPy, without a distribution (one array without a tree walk)."""
        if isinstance(tree, jax.Array):
            return np.asarray(tree)
        return jax.tree_util.tree_map(np.asarray, tree)

    def check(self, n_local, batch_size, where):
        if self.dist is None:
            return
        if is_multi_process():
            counts = np.asarray(multihost_utils.process_allgather(np.int64(n_local)))
            if len(set(counts.ravel().tolist())) > 1:
                raise ValueError(
                    f"{where}(): every process must pass the same number of samples (its "
                    f"own part of the data); received {counts.ravel().tolist()} by process. "
                    "Split the data evenly between the processes.")
        placement.check_batches(self.dist, n_local, batch_size, where)

    def check_batch(self, tree, where):
        """`check` for one whole batch (predict_on_batch, train_on_batch)."""
        if self.dist is not None:
            n = len(jax.tree_util.tree_leaves(tree)[0])
            self.check(n, n, where)

    def place(self, model):
        if self.dist is not None:
            placement.place_variables(self.dist, model.variables)

    def feed(self, tree):
        """A batch (NumPy rows of this process) as the step's input."""
        if self.dist is None:
            return tree
        return placement.shard_batch(self.dist, tree)

    def rows(self, tree):
        """Step outputs split over the batch as NumPy: this process's rows."""
        if self.dist is None or not is_multi_process():
            return self.host(tree)
        return jax.tree_util.tree_map(local_rows, tree)

    def wrap(self, fn):
        """`fn` traced (and run) with the distribution's batch axis as the batch split."""
        if self.dist is None:
            return fn
        mesh, axis = self.dist.device_mesh.backend_mesh, self.dist.batch_dim_name

        def call(*args):
            with core_sharding.batch_split(mesh, axis):
                return fn(*args)

        def lower(*args):  # to inspect the compiled program (tests: no all-gather)
            with core_sharding.batch_split(mesh, axis):
                return fn.lower(*args)

        call.lower = lower
        return call

    def pin(self, variables, values):
        """Inside a traced step: `values` constrained to their variables' layouts."""
        if self.dist is None:
            return values
        return [jax.lax.with_sharding_constraint(x, placement.variable_sharding(self.dist, v))
                for v, x in zip(variables, values)]

    def pin_state(self, opt_state, variables):
        """Inside a traced step: optimizer slots shaped like the variables follow their
        layouts; other leaves (step counts) are replicated."""
        if self.dist is None:
            return opt_state
        shardings = [placement.variable_sharding(self.dist, v) for v in variables]
        slots = jax.tree_util.tree_structure([0] * len(variables))
        rep = placement.replicated(self.dist)

        def is_slots(node):
            return jax.tree_util.tree_structure(node) == slots

        def pin(node):
            if is_slots(node):
                return [jax.lax.with_sharding_constraint(x, s)
                        for x, s in zip(jax.tree_util.tree_leaves(node), shardings)]
            if not hasattr(node, "shape"):
                return node
            return jax.lax.with_sharding_constraint(node, rep)

        return jax.tree_util.tree_map(pin, opt_state, is_leaf=is_slots)
