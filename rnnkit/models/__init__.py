"""Models: `Model` (functional or subclassed), `Sequential`, saving and loading."""

from rnnkit.models.model import Model, Sequential


def load_model(filepath, custom_objects=None, compile=True):
    """Loads a model written by `model.save(...)` (architecture, weights, optimizer)."""
    from rnnkit.models.saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile)
