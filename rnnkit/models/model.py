"""`Model` and `Sequential` (Keras 3 `keras.Model` / `keras.Sequential`)."""

from __future__ import annotations

from rnnkit import symbolic
from rnnkit.layers.input_layer import InputLayer
from rnnkit.layers.layer import Layer, in_trace
from rnnkit.layers.serialization import register_model_classes
from rnnkit.models import model_config
from rnnkit.models.functional import FunctionalMixin
from rnnkit.models.summary import print_summary
from rnnkit.models.training import Trainer


class Model(Trainer, FunctionalMixin, Layer):
    """A network of layers with training, evaluation and inference.

    Functional: `Model(inputs=Input(shape=(T, D)), outputs=Dense(1)(LSTM(8)(inp)))`.
    Subclassing: define layers in `__init__` and the computation in `call(inputs)`.
    """

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if (inputs is None) != (outputs is None):
            raise ValueError("Model needs both `inputs` and `outputs` (functional API), or "
                             "neither (subclassing API with a `call` method).")
        super().__init__(name=name or ("functional" if inputs is not None else None),
                         **kwargs)
        self._init_training_state()
        if inputs is not None:
            self._init_graph(inputs, outputs)

    @property
    def layers(self):
        if self._graph is not None:
            return self._graph.layers
        return list(self.__dict__.get("_layers", []))

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or at position `index` of `model.layers`."""
        if index is not None:
            if not 0 <= index < len(self.layers):
                raise ValueError(f"Model '{self.name}' has {len(self.layers)} layers; "
                                 f"index {index} is out of range.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named '{name}' in model '{self.name}'. Layers: "
                         f"{[layer.name for layer in self.layers]}.")

    def call(self, inputs, training=None, mask=None):
        if self._graph is None:
            raise NotImplementedError(
                f"Model '{self.name}' has no graph: pass inputs/outputs to Model(...) or "
                "subclass Model and define call().")
        outputs, _ = self.call_with_masks(inputs, training=training, mask=mask)
        return outputs

    def compute_mask(self, inputs, mask=None):
        if self._graph is None:
            return None
        _, masks = self.call_with_masks(inputs, mask=mask)
        return masks[0] if len(masks) == 1 else masks

    def _check_inputs(self, args, kwargs):
        if self._graph is not None and not symbolic.any_symbolic(args[0]):
            self._check_input_shapes(self._split_inputs(args[0]))

    def _maybe_build(self, args):
        if self.built:
            return
        if self._graph is None and not in_trace():
            # A subclassed model: run call once, eagerly, on one row of the data, so its
            # layers create their weights outside any trace.
            import jax

            sample = jax.tree_util.tree_map(lambda a: a[:1], args[0])
            self.call(sample, **({"training": False} if "training" in self._call_params()[0]
                                 else {}))
        self.built = True

    def build(self, input_shape):
        if self._graph is None and input_shape is not None:
            import jax.numpy as jnp

            self._maybe_build((jnp.zeros((1,) + tuple(input_shape[1:]), self.dtype),))
        self.built = True

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints a table of the layers, their output shapes and parameter counts."""
        return print_summary(self, print_fn=print_fn, line_length=line_length)

    def save(self, filepath, overwrite=True):
        """Saves architecture, weights and optimizer state to one file, atomically."""
        from rnnkit.io import save_model

        save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Saves the weights (get_weights() order) to one file, atomically."""
        from rnnkit.io import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Loads weights written by save_weights() (or save()) into this model."""
        from rnnkit.io import load_weights

        load_weights(self, filepath)

    def export(self, filepath, format="tf_saved_model", verbose=True, input_signature=None,
               **kwargs):
        """Exports the model for inference (Keras 3's call). rnnkit writes
        `format="onnx"`: recurrent layers as ONNX's LSTM/GRU/RNN operators (see
        `rnnkit.interop.onnx_export`); `opset=` picks the ONNX opset (default 17)."""
        if format != "onnx":
            raise ValueError(
                f"rnnkit exports format='onnx' only; received format={format!r} (the "
                "TensorFlow SavedModel formats need TensorFlow). Call "
                "model.export(path, format='onnx').")
        if input_signature is not None:
            raise ValueError("input_signature is not used by the ONNX export: the inputs "
                             "come from the model's Input shapes (None axes stay dynamic).")
        from rnnkit.interop.onnx_export import export_onnx

        return export_onnx(self, filepath, verbose=verbose, **kwargs)

    def get_config(self):
        return model_config.functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return model_config.functional_from_config(cls, config, custom_objects)


class Sequential(Model):
    """A linear stack of layers: `Sequential([Input(shape=(T, D)), LSTM(8), Dense(1)])`.

    Without an `Input` (or a first layer's `input_shape=`), the model is built on the
    first batch it sees. `model.layers` does not list the input.
    """

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name or "sequential", trainable=trainable, **kwargs)
        self._init_training_state()
        self._stack = []
        self._input_tensor = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build_graph()

    def add(self, layer, rebuild=True):
        """Appends a layer (or an `Input(...)` tensor as the first item)."""
        if symbolic.is_symbolic(layer):
            if self._stack or self._input_tensor is not None:
                raise ValueError("Sequential accepts an Input only as its first item.")
            self._input_tensor = layer
            return
        if isinstance(layer, InputLayer):
            self._input_tensor = layer.output
            return
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential.add expects a layer. Received: {layer!r}.")
        if any(layer is x for x in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in this Sequential model.")
        self._stack.append(layer)
        self.__dict__["_layers"] = list(self._stack)
        self._graph = None
        self.built = False
        if rebuild:
            self._maybe_build_graph()

    def pop(self):
        layer = self._stack.pop()
        self.__dict__["_layers"] = list(self._stack)
        self._graph = None
        self.built = False
        self._maybe_build_graph()
        return layer

    @property
    def layers(self):
        return list(self._stack)

    def _maybe_build_graph(self, batch_shape=None):
        if not self._stack:
            return
        if self._input_tensor is None:
            first = self._stack[0]._batch_input_shape
            if batch_shape is None and first is None:
                return
            from rnnkit.layers.input_layer import Input

            shape = tuple(batch_shape) if batch_shape is not None else first
            if batch_shape is not None and not self._has_stateful_layer():
                # any batch size later; a stateful layer keeps this one (as in Keras)
                shape = (None,) + shape[1:]
            self._input_tensor = Input(batch_shape=shape)
        x = self._input_tensor
        for layer in self._stack:
            x = layer(x)
        self._init_graph(self._input_tensor, x)
        self.__dict__["_layers"] = list(self._stack)

    def _has_stateful_layer(self):
        return any(getattr(layer, "stateful", False) is True
                   for top in self._stack for layer in top._flatten_layers())

    def build(self, input_shape=None):
        if self._graph is None:
            if input_shape is None and self._input_tensor is None and (
                    not self._stack or self._stack[0]._batch_input_shape is None):
                raise ValueError(
                    f"Sequential model '{self.name}' does not know its input shape yet. "
                    "Start it with rnnkit.Input(shape=(timesteps, features)), or call it "
                    "on data first.")
            self._maybe_build_graph(input_shape)
        self.built = True

    def _maybe_build(self, args):
        if self._graph is None:
            self.build(tuple(args[0].shape))

    def get_config(self):
        return model_config.sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return model_config.sequential_from_config(cls, config, custom_objects)


register_model_classes(Model=Model, Functional=Model, Sequential=Sequential)
