"""Describer of ConvLSTM1D/2D/3D: equations with `*` as convolution, the parameter formula
4F·(k·C + k·F + 1) with k = prod(kernel_size), C input channels, F filters."""

from __future__ import annotations

from rnnkit.core.kernels import conv_lstm as kernel
from rnnkit.explain.cells import act_name
from rnnkit.explain.formulas import eval_formula, prod, substitute, weight_rows
from rnnkit.explain.registry import Describer, register

_DEFAULT_INPUTS = {1: (1, 3, 16, 3), 2: (1, 3, 16, 16, 3), 3: (1, 3, 8, 8, 8, 3)}


def describe_conv_lstm(call):
    layer, info = call.layer, call.info
    cell = layer.cell
    variables = {"k": prod(cell.kernel_size), "C": int(cell.input_dim), "F": int(cell.filters)}
    info["formula"] = "4*F*(k*C+k*F)+4*F" if cell.use_bias else "4*F*(k*C+k*F)"
    info["variables"] = variables
    info["formula_substituted"] = substitute(info["formula"], variables)
    info["formula_value"] = eval_formula(info["formula"], variables)
    ks = "x".join(str(k) for k in cell.kernel_size)
    per = {"kernel": (f"({ks}, C, 4F)", "k*C*4*F"),
           "recurrent_kernel": (f"({ks}, F, 4F)", "k*F*4*F"), "bias": ("(4F,)", "4*F")}
    info["weights"] = weight_rows(list(layer.weights), layer.name, per, variables)
    act, ract = act_name(cell.activation), act_name(cell.recurrent_activation)
    info["equations"] = [line.replace("σ", ract).replace("act(", f"{act}(")
                         for line in kernel.EQUATIONS]
    batch = call.shape[0]
    state_shape = [batch] + list(cell.state_shape(batch)[1:])
    info["states"] = [{"name": "h", "shape": state_shape}, {"name": "c", "shape": state_shape}]
    info["states_returned"] = layer.return_state
    names = ["output", "h", "c"] if layer.return_state else ["output"]
    info["outputs"] = [{"name": n, "shape": list(t.shape)} for n, t in zip(names, call.outputs)]
    frame = tuple(state_shape[1:])
    steps = call.shape[1]
    call.ctx.update(output_shape=tuple(call.outputs[0].shape), timesteps=steps,
                    seq_shape=(batch, steps) + frame, last_shape=(batch,) + frame,
                    state_desc="h, c")
    call.notes.append(
        f"k = prod(kernel_size) = {variables['k']}; W * x uses strides={cell.strides}, "
        f"dilation_rate={cell.dilation_rate}, padding='{cell.padding}', so a frame of "
        f"{cell.spatial_dims} gives states of {cell.output_spatial(cell.spatial_dims)}; "
        "U * h is always 'same' with stride 1")


def _defaults(layer):
    return type(layer)(layer.filters, layer.kernel_size)


def register_all():
    from rnnkit.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D

    for rank, cls in ((1, ConvLSTM1D), (2, ConvLSTM2D), (3, ConvLSTM3D)):
        register(cls, Describer(describe_conv_lstm, rank=rank + 3,
                                default_input=_DEFAULT_INPUTS[rank], defaults=_defaults))
