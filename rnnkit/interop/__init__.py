"""Models to and from other frameworks.

* `from_torch(state_dict, mode=..., ...)`: a PyTorch LSTM/GRU/RNN as an rnnkit layer.
* `to_torch_state_dict(layer_or_model)`: rnnkit recurrent layers as a torch state dict.
* ONNX export: `model.export(path, format="onnx")` (see `rnnkit.interop.onnx_export`).

Keras `.keras` / `.h5` files load with `rnnkit.models.load_model` (see `rnnkit.io`).
"""

from rnnkit.interop.torch_export import to_torch_state_dict
from rnnkit.interop.torch_import import TorchRNN, from_torch

__all__ = ["TorchRNN", "from_torch", "to_torch_state_dict"]
