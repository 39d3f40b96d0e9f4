"""`Layer`: the Keras-shaped object around rnnkit's pure functions.

`__init__` stores configuration, `build(input_shape)` creates variables, `call` computes.
Calling a layer on arrays runs `call` as ONE compiled computation (`jax.jit`), cached per
input signature: the variables' values are passed in as arguments (see `variables.py`),
so a user-written `call` that reads `self.kernel` is compiled too. Calling a layer on
symbolic tensors (from `Input`) records a graph node instead. Inside another layer's
compiled call, sub-layers run directly, with no nested compilation.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit import symbolic
from rnnkit.layers.tracing import (STRUCTURAL_ATTRS, Spec, StaticArgs, Tracing, bump_structure,
                                   cached, current_training, in_trace, policy_name,
                                   shape_of, split_static, to_arrays)
from rnnkit.layers.validation import as_numeric_array, check_numeric
from rnnkit.utils.names import to_snake_case, unique_name  # noqa: F401 (imported from here too)
from rnnkit.variables import StatelessScope, Variable, current_scope, explain_misuse

_BATCH_SENTINEL = 89  # stands for an unknown batch size while shapes are inferred
_DIM_SENTINEL = 83  # stands for any other unknown size


class Layer:
    """Base class of every rnnkit layer (Keras 3 `keras.layers.Layer`).

    Subclasses override `build(input_shape)` to create weights with `add_weight`, and
    `call(inputs, ...)` to compute outputs from arrays. `call` may take `training` and
    `mask` keyword arguments; they are passed only if it does.
    """

    _numpy_inputs_ok = False  # see __call__

    def __init__(self, *, name=None, trainable=True, dtype=None, activity_regularizer=None,
                 input_shape=None, input_dim=None, batch_input_shape=None, batch_size=None,
                 **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s): "
                f"{', '.join(sorted(kwargs))}. Check the spelling against the Keras 3 "
                f"signature of {type(self).__name__}."
            )
        from rnnkit import regularizers

        d = self.__dict__
        d.setdefault("_layers", [])
        d.setdefault("_own_variables", [])
        d.setdefault("_hidden_variables", [])
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self._dtype_policy = policy_name(dtype)
        # float32 variables under mixed_bfloat16 (recurrent layers use bf16 matmuls)
        self.dtype = ("float32" if self._dtype_policy in (None, "mixed_bfloat16")
                      else self._dtype_policy)
        self.built = d.get("built", False)
        self._losses = []
        self._inbound_nodes = []
        self._jitted = None
        self._trace_count = 0
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if "supports_masking" not in d:
            self.supports_masking = False
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size, *tuple(input_shape))
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, None, int(input_dim))
        else:
            self._batch_input_shape = None

    # --- tracking -------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if not name.startswith("__"):
            layers = d.setdefault("_layers", [])
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if isinstance(item, Layer) and item is not self and not any(
                        item is x for x in layers):
                    layers.append(item)
                    bump_structure()
            if name in STRUCTURAL_ATTRS:
                bump_structure()
        object.__setattr__(self, name, value)

    def _flatten_layers(self, include_self=True):
        out = cached(self, "flatten", self._flatten_layers_uncached)
        return list(out) if include_self else out[1:]

    def _flatten_layers_uncached(self):
        seen, out = set(), []

        def visit(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            out.append(layer)
            for sub in layer.__dict__.get("_layers", []):
                visit(sub)

        visit(self)
        return out

    # --- weights --------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   name=None):
        """Creates a `Variable` owned by this layer and returns it."""
        from rnnkit import constraints, initializers, regularizers

        shape = () if shape is None else tuple(int(s) for s in shape)
        dtype = np.dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if np.issubdtype(dtype, np.floating) else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype=dtype.name)
        var = Variable(value, name=name or f"variable_{len(self._own_variables)}",
                       trainable=trainable, dtype=dtype,
                       regularizer=regularizers.get(regularizer),
                       constraint=constraints.get(constraint),
                       path=f"{self.name}/{name}")
        self.__dict__.setdefault("_own_variables", []).append(var)
        bump_structure()
        return var

    def add_hidden_variable(self, value, name):
        """A non-weight variable (RNN states, random-seed state): excluded from `weights`."""
        var = Variable(value, name=name, trainable=False, path=f"{self.name}/{name}")
        self.__dict__.setdefault("_hidden_variables", []).append(var)
        bump_structure()
        return var

    @property
    def weights(self):
        return list(cached(self, "weights", self._weights_uncached))

    def _weights_uncached(self):
        out, seen = [], set()
        own = self.__dict__.get("_own_variables", [])
        for var in [v for v in own if v.trainable] + [v for v in own if not v.trainable]:
            if id(var) not in seen:
                seen.add(id(var))
                out.append(var)
        for layer in self.__dict__.get("_layers", []):
            for var in layer.weights:
                if id(var) not in seen:
                    seen.add(id(var))
                    out.append(var)
        return out

    @property
    def trainable_weights(self):
        return list(cached(self, "trainable_weights", self._trainable_weights_uncached))

    def _trainable_weights_uncached(self):
        if not self.trainable:
            return []
        own = [v for v in self.__dict__.get("_own_variables", []) if v.trainable]
        out = list(own)
        for layer in self.__dict__.get("_layers", []):
            out.extend(v for v in layer.trainable_weights if all(v is not o for o in out))
        return out

    @property
    def non_trainable_weights(self):
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def variables(self):
        """Every variable the layer's computation reads: weights, then hidden state."""
        return list(cached(self, "variables", self._variables_uncached))

    def _variables_uncached(self):
        out = list(self.weights)
        seen = {id(v) for v in out}
        for layer in self._flatten_layers():
            for var in layer.__dict__.get("_hidden_variables", []):
                if id(var) not in seen:
                    seen.add(id(var))
                    out.append(var)
        return out

    def get_weights(self):
        return [np.array(v.numpy()) for v in self.weights]

    def set_weights(self, weights):
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}' expects {len(params)} weight arrays "
                f"(shapes {[p.shape for p in params]}), but set_weights received "
                f"{len(weights)}. Pass the list returned by get_weights() of a layer "
                "built with the same configuration and input shape."
            )
        for var, value in zip(params, weights):
            value = np.asarray(value)
            if tuple(value.shape) != var.shape:
                raise ValueError(
                    f"Weight '{var.path}' of layer '{self.name}' has shape {var.shape}, "
                    f"but set_weights received an array of shape {tuple(value.shape)}. "
                    "Weights must be given in get_weights() order with the same shapes."
                )
        for var, value in zip(params, weights):
            var.assign(np.asarray(value, dtype=var.dtype))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so it has no weights to count. "
                "Call it on an input or call layer.build(input_shape) first."
            )
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # --- losses ---------------------------------------------------------------------
    def add_loss(self, loss):
        scope = current_scope()
        if scope is not None and hasattr(scope, "losses"):
            scope.losses.append(loss)
        else:
            self._losses.append(loss)

    @property
    def losses(self):
        """Activity losses of the last call, then weight-regularization losses."""
        out = []
        for layer in self._flatten_layers():
            out.extend(layer.__dict__.get("_losses", []))
        for var in self.trainable_weights:
            if var.regularizer is not None:
                out.append(var.regularizer(var.value))
        return out

    def _clear_losses(self):
        for layer in cached(self, "flatten", self._flatten_layers_uncached):
            if layer.__dict__.get("_losses"):
                layer.__dict__["_losses"] = []

    # --- build & call ---------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def _maybe_build(self, args):
        if self.built:
            return
        shape = shape_of(args[0])
        self.build(shape)
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    def _call_params(self):
        cache = self.__dict__.get("_call_params_cache")
        if cache is None:
            params = inspect.signature(self.call).parameters
            accepts_var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
            cache = (set(params), accepts_var_kw)
            self.__dict__["_call_params_cache"] = cache
        return cache

    def _prepare_kwargs(self, kwargs):
        names, var_kw = self._call_params()
        if "training" in names or var_kw:
            if kwargs.get("training") is None:
                kwargs["training"] = current_training()
        elif "training" in kwargs:
            kwargs.pop("training")
        if "mask" in kwargs and not ("mask" in names or var_kw):
            kwargs.pop("mask")
        return kwargs

    def __call__(self, *args, **kwargs):
        if not args:
            if "inputs" not in kwargs:
                raise TypeError(f"Layer '{self.name}' was called without inputs.")
            args = (kwargs.pop("inputs"),)
        if symbolic.any_symbolic((args, kwargs)):
            return self._symbolic_call(args, kwargs)
        tracing = in_trace()
        if not tracing:  # the public boundary: nested lists become arrays; numbers only
            where = f"{type(self).__name__} '{self.name}'"
            args = (as_numeric_array(args[0], where),) + args[1:]
            check_numeric(args[0], where)
        # Layers that declare `_numpy_inputs_ok` (their checks read only shapes) get numpy
        # inputs as they are outside a trace; the compiled call converts them, about 15 us
        # faster per call than `jnp.asarray` here.
        convert = tracing or not self._numpy_inputs_ok
        args, kwargs = to_arrays(args, convert), to_arrays(kwargs, convert)
        self._check_inputs(args, kwargs)
        self._maybe_build(args)
        kwargs = self._prepare_kwargs(kwargs)
        if tracing:
            return self._call_direct(args, kwargs)
        return self._call_compiled(args, kwargs)

    def _check_inputs(self, args, kwargs):
        """Hook for argument validation before build (subclasses raise clear errors)."""

    def _call_direct(self, args, kwargs):
        with Tracing(kwargs.get("training")):
            try:
                outputs = self.call(*args, **kwargs)
            except TypeError as err:  # `jnp.exp(self.w)`: say what to write instead
                explained = explain_misuse(err, self)
                if explained is None:
                    raise
                raise explained from err
        if self.activity_regularizer is not None:
            for out in jax.tree_util.tree_leaves(outputs):
                self.add_loss(_activity_loss(self.activity_regularizer, out))
        return outputs

    def _pure_call(self, method, static, values, arrays):
        """`method` as a pure function of variable values: (outputs, updates, losses)."""
        self._trace_count += 1
        args, kwargs = static.rebuild(arrays)
        variables = self.variables
        scope = StatelessScope(variables, values)
        scope.losses = []
        with scope:
            if method == "call":
                outputs = self._call_direct(args, kwargs)
            else:
                with Tracing(kwargs.get("training")):
                    outputs = getattr(self, method)(*args, **kwargs)
        updates = {i: scope.updates[id(v)] for i, v in enumerate(variables)
                   if id(v) in scope.updates}
        return outputs, updates, scope.losses

    def _call_compiled(self, args, kwargs, method="call"):
        """Runs `self.<method>(*args, **kwargs)` as one cached `jax.jit` computation."""
        static, arrays = split_static((args, kwargs))
        try:
            hash(static)
        except TypeError:
            return self._call_direct(to_arrays(args), to_arrays(kwargs))
        jitted = self.__dict__.get("_jitted")
        if jitted is None:
            jitted = self._jitted = jax.jit(self._pure_call, static_argnums=(0, 1))
        variables = cached(self, "variables", self._variables_uncached)
        outputs, updates, losses = jitted(method, static, [v._value for v in variables],
                                          arrays)
        for i, value in updates.items():
            variables[i]._value = value
        if method == "call":
            self._clear_losses()
            self.__dict__["_losses"] = list(losses)
        return outputs

    def stateless_call(self, values, *args, **kwargs):
        """Runs the layer as a pure function of `values` (one per `self.variables`).

        Returns `(outputs, new_values, losses)`. Usable inside `jax.jit`/`jax.grad`.
        """
        variables = self.variables
        if len(values) != len(variables):
            raise ValueError(f"stateless_call of '{self.name}' expects {len(variables)} "
                             f"values (one per layer.variables); received {len(values)}.")
        args, kwargs = to_arrays(args), to_arrays(kwargs)
        self._maybe_build(args)
        kwargs = self._prepare_kwargs(kwargs)
        scope = StatelessScope(variables, values)
        scope.losses = []
        with scope, Tracing(kwargs.get("training")):
            outputs = self._call_direct(args, kwargs)
            reg = [v.regularizer(v.value) for v in self.trainable_weights
                   if v.regularizer is not None]
        new_values = [scope.updates.get(id(v), x) for v, x in zip(variables, values)]
        return outputs, new_values, list(scope.losses) + reg

    # --- symbolic -------------------------------------------------------------------
    def _symbolic_call(self, args, kwargs):
        self._check_inputs(args, kwargs)
        if not self.built:
            shape = jax.tree_util.tree_map(
                lambda t: tuple(t.shape), args[0], is_leaf=symbolic.is_symbolic)
            self.build(list(shape) if isinstance(shape, tuple) and shape and isinstance(
                shape[0], tuple) else shape)
            self.built = True
        spec = self.compute_output_spec(*args, **kwargs)
        node = symbolic.Node(self, args, kwargs, outputs=None,
                             inputs=[t for t in symbolic.tree_leaves((args, kwargs))
                                     if symbolic.is_symbolic(t)])
        counter = iter(range(1 << 30))
        outputs = jax.tree_util.tree_map(
            lambda s: symbolic.KerasTensor(s.shape, s.dtype, node=node, index=next(counter),
                                           name=f"{self.name}_output"),
            spec, is_leaf=lambda s: isinstance(s, (jax.ShapeDtypeStruct, Spec)))
        node.outputs = outputs
        self._inbound_nodes.append(node)
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        """Output shapes for symbolic inputs, by tracing `call` without computing it.

        Unknown sizes (None) are traced twice with different stand-in sizes; an output size
        that changes between the two traces depends on them and is reported as None.
        """
        symbolic_leaves = [t for t in symbolic.tree_leaves((args, kwargs))
                           if symbolic.is_symbolic(t)]
        has_unknown = any(d is None for t in symbolic_leaves for d in t.shape)
        first = self._eval_output_shapes(args, kwargs, _BATCH_SENTINEL, _DIM_SENTINEL)
        if not has_unknown:
            return first
        second = self._eval_output_shapes(args, kwargs, _BATCH_SENTINEL + 8,
                                          _DIM_SENTINEL + 14)

        def merge(a, b):
            shape = tuple(da if da == db else None for da, db in zip(a.shape, b.shape))
            if None in shape:
                return Spec(shape, a.dtype)
            return jax.ShapeDtypeStruct(shape, a.dtype)

        return jax.tree_util.tree_map(merge, first, second)

    def _eval_output_shapes(self, args, kwargs, batch_size, dim_size):
        def to_struct(t):
            if not symbolic.is_symbolic(t):
                return t
            shape = tuple((batch_size if i == 0 else dim_size) if d is None else d
                          for i, d in enumerate(t.shape))
            return jax.ShapeDtypeStruct(shape, t.dtype)

        structs = jax.tree_util.tree_map(to_struct, (args, kwargs),
                                         is_leaf=symbolic.is_symbolic)
        leaves, treedef = jax.tree_util.tree_flatten(structs, is_leaf=lambda x: x is None)
        is_array = [isinstance(x, jax.ShapeDtypeStruct) for x in leaves]
        static = StaticArgs(treedef, [None if a else x for x, a in zip(leaves, is_array)],
                         is_array)
        arrays = [x for x, a in zip(leaves, is_array) if a]
        values = [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in self.variables]

        def run(values, arrays):
            a, kw = static.rebuild(arrays)
            kw = self._prepare_kwargs(kw)
            scope = StatelessScope(self.variables, values)
            scope.losses = []
            with scope, Tracing(kw.get("training")):
                return self.call(*a, **kw)

        return jax.eval_shape(run, values, arrays)

    # --- config ---------------------------------------------------------------------
    def get_config(self):
        from rnnkit import regularizers

        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": "mixed_bfloat16" if self.__dict__.get("_dtype_policy") ==
                  "mixed_bfloat16" else self.dtype}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# the names other modules imported from here before the call machinery moved to tracing.py
_Tracing, _Spec = Tracing, Spec


def _activity_loss(regularizer, out):
    """Keras' activity loss: the regularizer over one output, divided by its batch size
    (0 for an empty batch; scalars are not divided)."""
    loss = regularizer(out)
    if jnp.ndim(out) == 0:
        return loss
    batch = jnp.shape(out)[0]
    return loss / batch if batch else jnp.zeros_like(loss)
