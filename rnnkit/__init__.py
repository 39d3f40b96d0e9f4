"""rnnkit: Keras-compatible recurrent networks on JAX."""

from rnnkit import (activations, callbacks, constraints, initializers, layers, losses, metrics,
                    models, ops, optimizers, random, regularizers)
from rnnkit.layers import Input
from rnnkit.models import Model, Sequential, load_model
from rnnkit.random import set_random_seed

__version__ = "0.1.0"
