"""Reading and writing model files.

`load_model(path)` reads rnnkit's own files and Keras `.keras` / `.h5` files (Keras 3 and
tf.keras 2): the format is sniffed, one reader per format yields the config, the weight
arrays and the compile state, and one shared path builds the model (see `pipeline`).
`save_model` / `save_weights` write rnnkit's own format atomically.
"""

from rnnkit.io.pipeline import load_model, load_weights, read
from rnnkit.io.rnnkit_format import save_model, save_weights

__all__ = ["load_model", "load_weights", "read", "save_model", "save_weights"]
