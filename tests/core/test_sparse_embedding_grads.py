"""Embedding tables get Keras-on-TensorFlow's per-occurrence gradient squares."""

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit.core import sparse
from rnnkit.optimizers import Adam


def test_ghost_gradient_is_sum_of_per_occurrence_squares():
    table = jnp.arange(12.0).reshape(4, 3)
    ids = jnp.array([[1, 1, 3]])
    weights = jnp.array([[[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [2.0, 0.0, 1.0]]])

    def loss(t, ghost):
        return jnp.sum(sparse.take_rows(t, ghost, ids) * weights)

    d_table, d_ghost = jax.grad(loss, argnums=(0, 1))(table, jnp.zeros_like(table))
    np.testing.assert_allclose(d_table[1], [1.5, 2.5, 3.5])  # summed rows
    np.testing.assert_allclose(d_ghost[1], [1.25, 4.25, 9.25])  # 1+0.25, 4+0.25, 9+0.25
    np.testing.assert_allclose(d_ghost[0], 0.0)
    np.testing.assert_allclose(d_ghost[3], [4.0, 0.0, 1.0])


def test_adam_uses_the_given_squares_for_its_second_moment():
    opt = Adam(0.1)
    params = [jnp.zeros((2, 2))]
    grads = [jnp.ones((2, 2))]
    squares = [jnp.full((2, 2), 3.0)]  # e.g. three occurrences of gradient 1
    state = opt.init(params)
    dense_update, _ = opt.update(grads, state, params)
    sparse_update, new_state = opt.update(grads, state, params, grad_squares=squares)
    v = np.asarray(jax.tree_util.tree_leaves(new_state.slots["velocity"])[0])
    np.testing.assert_allclose(v, 0.001 * 3.0, rtol=1e-6)
    assert not np.allclose(dense_update[0], sparse_update[0])
