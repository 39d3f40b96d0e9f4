"""Models: `Model` (functional or subclassed), `Sequential`, saving and loading."""

from rnnkit.models.model import Model, Sequential


def load_model(filepath, custom_objects=None, compile=True):
    """Loads a model file: one written by `model.save(...)` (architecture, weights,
    optimizer), or a Keras `.keras` / `.h5` model file (Keras 3 or tf.keras 2)."""
    from rnnkit.io import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile)
