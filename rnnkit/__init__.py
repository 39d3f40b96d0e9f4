"""rnnkit: Keras-compatible recurrent networks on JAX."""

from rnnkit import activations, constraints, initializers, layers, ops, random, regularizers
from rnnkit.layers import Input
from rnnkit.random import set_random_seed

__version__ = "0.1.0"
