"""Functional graphs: `Model(inputs, outputs)` records the layer calls between them and
replays them on arrays, passing masks between layers as Keras does."""

from __future__ import annotations

import jax

from rnnkit import symbolic
from rnnkit.layers.input_layer import InputLayer
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn_stack import chainable, stack_call


def _flatten(tree):
    return symbolic.tree_leaves(tree)


def _replace(tree, lookup):
    return jax.tree_util.tree_map(
        lambda t: lookup(t) if symbolic.is_symbolic(t) else t, tree,
        is_leaf=lambda x: x is None or symbolic.is_symbolic(x))


class Graph:
    """The nodes between `inputs` and `outputs` in an order that can be run."""

    def __init__(self, inputs, outputs):
        self.inputs = inputs
        self.outputs = outputs
        self.input_list = _flatten(inputs)
        self.output_list = _flatten(outputs)
        for t in self.input_list + self.output_list:
            if not symbolic.is_symbolic(t):
                raise ValueError(
                    "Model(inputs, outputs) expects symbolic tensors from rnnkit.Input(...) "
                    f"and from layers called on them. Received: {t!r}.")
        self.nodes = self._topological_nodes()
        self.chains = self._layer_chains()

    def _topological_nodes(self):
        order, done, active = [], set(), set()
        allowed_inputs = {id(t.node) for t in self.input_list}

        def visit(tensor):
            node = tensor.node
            if node is None:
                raise ValueError(f"The tensor {tensor!r} was not produced by an Input or a "
                                 "layer call, so the model cannot compute it.")
            if id(node) in done:
                return
            if isinstance(node.layer, InputLayer) and id(node) not in allowed_inputs:
                raise ValueError(
                    f"Graph disconnected: an output depends on the input '{node.layer.name}' "
                    f"{tuple(node.layer.batch_shape)}, which is not in the model's inputs. "
                    "Add it to Model(inputs=[...]).")
            active.add(id(node))
            for t in node.inputs:
                visit(t)
            done.add(id(node))
            order.append(node)

        for t in self.output_list:
            visit(t)
        return order

    def _layer_chains(self):
        """Chains of >= 2 recurrent-layer calls, each taking the previous one's output as its
        only input, with no other user of that output (`rnnkit.layers.rnn_stack`): the first
        node's id -> the chain's nodes. `run` tries each chain as one stacked kernel call."""
        users = {}
        for node in self.nodes:
            for t in node.inputs:
                users.setdefault(id(t), []).append(node)
        model_outputs = {id(t) for t in self.output_list}

        def plain(node):  # layer(x) with nothing else: no initial state, mask or options
            return (chainable(node.layer) and len(node.args) == 1 and not node.kwargs
                    and len(node.inputs) == 1 and symbolic.is_symbolic(node.args[0]))

        def successor(node):
            outs = _flatten(node.outputs)
            if len(outs) != 1 or id(outs[0]) in model_outputs:
                return None
            nxt = users.get(id(outs[0]), [])
            return nxt[0] if len(nxt) == 1 and plain(nxt[0]) else None

        chains, taken = {}, set()
        for node in self.nodes:
            if id(node) in taken or not plain(node):
                continue
            chain = [node]
            while (nxt := successor(chain[-1])) is not None and id(nxt) not in taken:
                chain.append(nxt)
            if len(chain) >= 2:
                chains[id(node)] = chain
                taken.update(id(n) for n in chain)
        return chains

    @property
    def layers(self):
        seen, out = set(), []
        for t in self.input_list:  # inputs first, in the order given
            if id(t.node.layer) not in seen:
                seen.add(id(t.node.layer))
                out.append(t.node.layer)
        for node in self.nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                out.append(node.layer)
        return out

    def run(self, input_values, training=None, input_masks=None):
        """Runs the graph on arrays: returns (outputs, output masks) in `outputs`' structure."""
        values = {}
        masks = input_masks or [None] * len(self.input_list)
        for t, x, m in zip(self.input_list, input_values, masks):
            values[id(t)] = (x, m)
        done = set()  # the later nodes of chains that ran as one stacked call
        for node in self.nodes:
            layer = node.layer
            if isinstance(layer, InputLayer) or id(node) in done:
                continue
            chain = self.chains.get(id(node))
            if chain is not None and values[id(node.inputs[0])][1] is None:
                x = values[id(node.inputs[0])][0]
                out = stack_call([n.layer for n in chain], x, training)
                if out is not None:
                    last = chain[-1]
                    values[id(_flatten(last.outputs)[0])] = (out,
                                                             last.layer.compute_mask(x, None))
                    done.update(id(n) for n in chain)
                    continue
            args = _replace(node.args, lambda t: values[id(t)][0])
            kwargs = _replace(node.kwargs, lambda t: values[id(t)][0])
            first = _flatten(node.args[0])
            in_masks = [values[id(t)][1] if symbolic.is_symbolic(t) else None for t in first]
            mask = in_masks[0] if len(in_masks) == 1 else in_masks
            if "mask" not in node.kwargs and any(m is not None for m in in_masks):
                kwargs["mask"] = mask
            if training is not None and "training" not in node.kwargs:
                kwargs["training"] = training
            outputs = layer(*args, **kwargs)
            out_mask = layer.compute_mask(args[0], kwargs.get("mask"))
            out_tensors = _flatten(node.outputs)
            out_values = jax.tree_util.tree_leaves(outputs)
            if isinstance(out_mask, (list, tuple)):
                out_masks = list(out_mask) + [None] * (len(out_tensors) - len(out_mask))
            else:
                out_masks = [out_mask] + [None] * (len(out_tensors) - 1)
            for t, v, m in zip(out_tensors, out_values, out_masks):
                values[id(t)] = (v, m)
        outs = _replace(self.outputs, lambda t: values[id(t)][0])
        out_masks = [values[id(t)][1] for t in self.output_list]
        return outs, out_masks


class FunctionalMixin:
    """Graph-backed `call` for `Model(inputs, outputs)` and `Sequential`."""

    _graph: Graph | None = None

    def _init_graph(self, inputs, outputs):
        self._graph = Graph(inputs, outputs)
        for layer in self._graph.layers:
            setattr_layers = self.__dict__.setdefault("_layers", [])
            if not any(layer is x for x in setattr_layers):
                setattr_layers.append(layer)
        self.built = True

    @property
    def inputs(self):
        return self._graph.input_list if self._graph else None

    @property
    def outputs(self):
        return self._graph.output_list if self._graph else None

    def _split_inputs(self, inputs):
        expected = len(self._graph.input_list)
        if expected == 1:
            if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
                inputs = inputs[0]
            if isinstance(inputs, (list, tuple)):
                raise ValueError(
                    f"Model '{self.name}' has 1 input but was called with {len(inputs)} "
                    "arrays. Pass a single array of shape "
                    f"{self._graph.input_list[0].shape}.")
            return [inputs]
        if isinstance(inputs, dict):
            names = [t.node.layer.name for t in self._graph.input_list]
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' expects inputs named {names}; "
                                 f"missing {missing}.")
            return [inputs[n] for n in names]
        if not isinstance(inputs, (list, tuple)) or len(inputs) != expected:
            got = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(
                f"Model '{self.name}' has {expected} inputs "
                f"{[t.shape for t in self._graph.input_list]} but was called with {got} "
                f"array(s). Pass a list of {expected} arrays in the order of Model(inputs=...).")
        return list(inputs)

    def _check_input_shapes(self, xs):
        for t, x in zip(self._graph.input_list, xs):
            shape = tuple(getattr(x, "shape", ()))
            want = t.shape
            ok = len(shape) == len(want) and all(
                w is None or w == s for w, s in zip(want, shape))
            if not ok:
                raise ValueError(
                    f"Input '{t.node.layer.name}' of model '{self.name}' expects arrays of shape "
                    f"{want} (None = any size), but received an array of shape {shape}. "
                    "Reshape the data, or build the model with Input(shape=...) matching it.")

    def call_with_masks(self, inputs, training=None, mask=None):
        xs = self._split_inputs(inputs)
        masks = None
        if mask is not None:
            masks = mask if isinstance(mask, (list, tuple)) else [mask]
        return self._graph.run(xs, training=training, input_masks=masks)


def is_graph_model(model) -> bool:
    return isinstance(model, Layer) and getattr(model, "_graph", None) is not None
