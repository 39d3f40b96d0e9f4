"""Saving and loading models (kept for imports of `rnnkit.models.saving`): the code lives
in `rnnkit.io`, one module per file format, and `rnnkit.utils.files` (atomic writes)."""

from rnnkit.io.pipeline import load_model, load_weights
from rnnkit.io.rnnkit_format import save_model, save_weights

__all__ = ["load_model", "load_weights", "save_model", "save_weights"]
