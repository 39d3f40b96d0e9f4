"""rnnkit: Keras-compatible recurrent networks on JAX."""

from rnnkit import config  # noqa: I001  (first: reads RNNKIT_* before JAX starts)
from rnnkit import (activations, callbacks, constraints, distribution, initializers, layers,
                    losses, metrics, models, ops, optimizers, random, regularizers)
from rnnkit.layers import Input
from rnnkit.models import Model, Sequential, load_model
from rnnkit.random import set_random_seed

from rnnkit import explain, generate  # noqa: E402  (callable modules: rnnkit.explain(...))
from rnnkit import interop, io  # noqa: E402

__version__ = "0.1.0"

config._apply_env()
