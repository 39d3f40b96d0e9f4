"""Describers of the recurrent layers: RNN (and LSTM, GRU, SimpleRNN), Bidirectional, cells."""

from __future__ import annotations

from rnnkit.explain.cells import cell_text, describe_cell
from rnnkit.explain.formulas import eval_formula, substitute
from rnnkit.explain.registry import Describer, register

_SEQ_INPUT = (1, 3, 5)  # the tutorials' input_data


def _cells_of(cell):
    from rnnkit.layers.stacked import StackedRNNCells

    return list(cell.cells) if isinstance(cell, StackedRNNCells) else [cell]


def _sum_cells(info, infos, formula_first=False):
    """The formula of cells run one after another: the sum of theirs."""
    info["cells"] = infos
    variables = {k: v for ci in infos for k, v in ci["variables"].items()}
    if not formula_first:  # the order of the keys in to_json()
        info["variables"] = variables
    info["formula"] = (infos[0]["formula"] if len(infos) == 1
                       else "+".join(f"({ci['formula']})" for ci in infos))
    info["variables"] = variables
    info["formula_substituted"] = substitute(info["formula"], info["variables"])
    info["formula_value"] = eval_formula(info["formula"], info["variables"])


def _describe_cells(cells, dim, owner_name, suffix_base=""):
    infos = []
    for k, cell in enumerate(cells):
        suffix = f"{suffix_base}{k + 1}" if len(cells) > 1 else suffix_base
        ci = describe_cell(cell, dim, owner_name, suffix)
        infos.append(ci)
        dim = ci["output_size"]
    return infos


def _state_rows(infos, batch):
    many = len(infos) > 1
    return [{"name": f"{n}{k + 1}" if many else n, "shape": [batch, s]}
            for k, ci in enumerate(infos) for n, s in zip(ci["state_names"], ci["state_sizes"])]


def rnn_body(layer, shape, info, suffix_base=""):
    """Fills the cell part of `info` for an RNN layer; returns what its call shapes need."""
    cells = _cells_of(layer.cell)
    infos = _describe_cells(cells, shape[-1], layer.name, suffix_base)
    _sum_cells(info, infos, formula_first=True)
    batch = shape[0]
    states = _state_rows(infos, batch)
    return {"cells": cells, "T": shape[0 if layer.time_major else 1], "batch": batch,
            "units": infos[-1]["output_size"], "states": states,
            "state_desc": ", ".join(s["name"] for s in states)}


def _one_cell(cells):
    return cells[0] if len(cells) == 1 else None


def describe_rnn(call):
    layer, info, notes = call.layer, call.info, call.notes
    body = rnn_body(layer, call.shape, info)
    T, batch, units = body["T"], body["batch"], body["units"]
    cell = _one_cell(body["cells"])
    call.ctx.update(cell_text=cell_text(cell), timesteps=T, seq_shape=(batch, T, units),
                    last_shape=(batch, units), state_desc=body["state_desc"])
    names = ["output"] + [s["name"] for s in body["states"]] if layer.return_state \
        else ["output"]
    info["outputs"] = [{"name": n, "shape": list(t.shape)} for n, t in zip(names, call.outputs)]
    info["states"] = body["states"]
    info["states_returned"] = layer.return_state
    call.ctx["output_shape"] = tuple(call.outputs[0].shape)
    if len(body["cells"]) > 1:
        notes.append("stacked cells: each cell's output is the next cell's input (d of "
                     "cell k+1 = u of cell k); the layer outputs the last cell's output")
    if not layer.return_state:
        notes.append("final states are computed but not returned; pass return_state=True "
                     "to get [output, " + body["state_desc"] + "], or use layer.step(x_t, "
                     "states) to run one step at a time")


def _directions(layer, shape, tags):
    out = []
    for sub, tag in zip((layer.forward_layer, layer.backward_layer), tags):
        si = {"kind": "layer", "class_name": type(sub).__name__, "name": sub.name,
              "params": int(sub.count_params()),
              "direction": "backward" if sub.go_backwards else "forward"}
        body = rnn_body(sub, shape, si, suffix_base=tag)
        si["states"] = body["states"]
        out.append((si, body))
    return out


def describe_bidirectional(call):
    layer, info = call.layer, call.info
    subs = _directions(layer, call.shape, ("", ""))
    (fw, _), (bw, _) = subs
    same = fw["formula"] == bw["formula"] and fw["variables"] == bw["variables"]
    if same:
        info["formula"] = f"2*({fw['formula']})"
        variables = dict(fw["variables"])
    else:
        subs = _directions(layer, call.shape, ("f", "b"))
        (fw, _), (bw, _) = subs
        info["formula"] = f"({fw['formula']})+({bw['formula']})"
        variables = {**fw["variables"], **bw["variables"]}
    info["sublayers"] = [fw, bw]
    info["directions_identical"] = same
    info["variables"] = variables
    info["formula_substituted"] = substitute(info["formula"], variables)
    info["formula_value"] = eval_formula(info["formula"], variables)
    body = subs[0][1]
    T, batch, units = body["T"], body["batch"], body["units"]
    merged = 2 * units if layer.merge_mode == "concat" else units
    tagged = {d: [{"name": f"{d}_{s['name']}", "shape": s["shape"]} for s in sub["states"]]
              for d, sub in (("forward", fw), ("backward", bw))}
    call.ctx.update(cell_text=cell_text(_one_cell(body["cells"])), timesteps=T,
                    seq_shape=(batch, T, merged), last_shape=(batch, merged),
                    inner_units=units,
                    state_desc=", ".join([f"forward_{s['name']}" for s in body["states"]] +
                                         [f"backward_{s['name']}" for s in body["states"]]))
    names = (["output"] if layer.merge_mode is not None
             else ["forward_output", "backward_output"])
    if layer.return_state:
        names += [s["name"] for s in tagged["forward"] + tagged["backward"]]
    info["outputs"] = [{"name": n, "shape": list(t.shape)} for n, t in zip(names, call.outputs)]
    info["states"] = tagged["forward"] + tagged["backward"]
    info["states_returned"] = layer.return_state
    call.ctx["output_shape"] = tuple(call.outputs[0].shape)
    call.notes.append("the backward copy reads the sequence from the end; its outputs are "
                      "flipped back to time order before merging, so output[:, t] sees the "
                      "whole sequence")


def describe_cell_layer(call):
    layer, info = call.layer, call.info
    cells = _cells_of(layer)
    infos = _describe_cells(cells, call.shape[-1], layer.name)
    _sum_cells(info, infos)
    batch = call.shape[0]
    info["outputs"] = [{"name": "output_t", "shape": [batch, infos[-1]["output_size"]]}]
    info["states"] = _state_rows(infos, batch)
    info["outputs"] += [{"name": f"new {st['name']}", "shape": st["shape"]}
                        for st in info["states"]]
    info["states_returned"] = True
    cell = _one_cell(cells)
    call.ctx.update(cell_text=cell_text(cell), output_shape=(batch, infos[-1]["output_size"]))
    if not any("ONE time step" in n for n in call.notes):
        call.notes.append("a cell computes one time step: output_t, new_states = cell(x_t, "
                          "states); RNN(cell) runs it over a sequence")


def _bidirectional_arguments(layer):
    out = {"layer": layer.forward_layer}
    if layer.merge_mode != "concat":
        out["merge_mode"] = layer.merge_mode
    return out


RNN_DESCRIBER = Describer(describe_rnn, rank=3, default_input=_SEQ_INPUT,
                          implicit_arguments=lambda layer: {"cell": layer.cell})
BIDIRECTIONAL_DESCRIBER = Describer(
    describe_bidirectional, rank=3, default_input=_SEQ_INPUT, defaults=None,
    implicit_arguments=_bidirectional_arguments, lists_wrapped_arguments=True,
    effects={"layer": lambda v, ctx: ("the recurrent layer run forwards; a copy runs "
                                      "backwards (equations above)")})
CELL_DESCRIBER = Describer(describe_cell_layer, rank=2, one_step=True)


def register_all():
    from rnnkit.layers.bidirectional import Bidirectional
    from rnnkit.layers.rnn import RNN
    from rnnkit.layers.rnn_cells import DropoutRNNCell
    from rnnkit.layers.stacked import AbstractRNNCell, StackedRNNCells

    register(RNN, RNN_DESCRIBER)
    register(Bidirectional, BIDIRECTIONAL_DESCRIBER)
    for cell_class in (DropoutRNNCell, StackedRNNCells, AbstractRNNCell):
        register(cell_class, CELL_DESCRIBER)
