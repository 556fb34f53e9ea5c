"""The graph walk: ONNX nodes in order -> converters -> one MXNet Symbol plus params.

Generic constant folding happens here, not in converters: when every input of a node is
static, its converter runs on placeholder variables and the resulting Symbol is evaluated at
once with MXNet, so the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains exporters emit
become static values for the declared input shapes, with no second implementation of any op.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.importer import errors, families, selection  # noqa: F401 - families registers every converter
from pipeline.onnx.importer.context import ConvertContext
from pipeline.onnx.importer.modelfile import inferred_info, np_dtype, opsets, read_node, tensor_value, value_type
from pipeline.onnx.importer.registry import OnnxNode, lookup
from pipeline.onnx.importer.state import GraphState, mx_shape

MXNET_VERSION = 10901


class _FoldingContext(ConvertContext):
    """Inputs become placeholders fed with their static values; results are evaluated at once."""

    def __init__(self, *args):
        super().__init__(*args)
        self.feeds: dict[str, np.ndarray] = {}
        self._vars: dict[int, object] = {}

    def input(self, i: int):
        """One placeholder per input, however often a converter asks for it: a Split reads its
        input once per part, and distinct variables of one name make MXNet's eval refuse the
        group ("arg_names.size() == in_args_map.size()")."""
        import mxnet as mx

        if not self.has_input(i):
            return None
        if i not in self._vars:
            value = self.state.statics[self.node.inputs[i]]
            name = f"__fold{i}"
            self.feeds[name] = value.astype(np.float32) if value.dtype == np.bool_ else value
            self._vars[i] = mx.sym.var(name)
        return self._vars[i]


def check_supported(nodes: list[OnnxNode], model_opsets: dict[str, int]) -> None:
    """One error listing every op the registry cannot convert, with opset and node names."""
    missing: dict[tuple[str, str, int, str], list[str]] = {}
    for node in nodes:
        opset = model_opsets.get(node.domain)
        if opset is None:
            why = f"domain '{node.domain}' is not imported by the model"
            fn = None
        else:
            fn, why = lookup(node.op_type, node.domain, opset)
        if fn is None:
            missing.setdefault((node.domain, node.op_type, opset or 0, why), []).append(node.label)
    if not missing:
        return
    parts = []
    for (domain, op, opset, why), labels in sorted(missing.items()):
        shown = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
        prefix = "" if domain == "ai.onnx" else f"{domain}:"
        parts.append(f"{prefix}{op} (opset {opset}; {why}; nodes: {shown})")
    raise errors.OnnxImportError(f"{len(missing)} unsupported ONNX op(s): " + "; ".join(parts),
                                 code=errors.UNSUPPORTED_OPS, where=nodes[0].label if nodes else "",
                                 hint="docs/onnx-coverage.md lists the supported ops and opsets")


def declared_inputs(graph, initializers: dict, input_shapes: dict[str, tuple]) -> list[TensorSpec]:
    """The graph inputs that are not initializers (nor frozen), with shapes from ONNX or the declaration."""
    real = [vi for vi in graph.input if vi.name not in initializers]
    names = [vi.name for vi in real]
    unknown = [n for n in input_shapes if n not in names]
    if unknown:
        raise errors.OnnxImportError(f"declared input(s) {', '.join(unknown)} do not exist in the model",
                                     code=errors.UNKNOWN_INPUT, where=unknown[0],
                                     hint=f"the model's inputs are: {', '.join(names) or 'none'}")
    specs, dynamic = [], []
    for vi in real:
        elem, dims = value_type(vi)
        if elem is None:
            raise errors.OnnxImportError(f"input '{vi.name}' is not a tensor", code=errors.UNSUPPORTED_TYPE,
                                         where=vi.name, hint="sequence, map and optional inputs are out of scope")
        dtype = np_dtype(elem, vi.name)
        if vi.name in input_shapes:
            shape = tuple(int(d) for d in input_shapes[vi.name])
            if dims is not None and (len(dims) != len(shape) or
                                     any(d is not None and d != 0 and d != s for d, s in zip(dims, shape))):
                shown = tuple("?" if d is None else d for d in dims)
                raise errors.OnnxImportError(f"declared shape {shape} of input '{vi.name}' does not fit "
                                             f"the model's {shown}", code=errors.BAD_SHAPE, where=vi.name,
                                             hint="declare a shape with the model's rank and fixed dimensions")
        elif dims is None or any(d is None for d in dims):
            dynamic.append(f"{vi.name}{tuple('?' if d is None else d for d in dims or ())}")
            continue
        else:
            shape = tuple(dims)
        # MXNet 1.9.1 has no rank-0 arrays: a scalar input is declared, fed and bound as (1,).
        specs.append(TensorSpec(vi.name, mx_shape(shape), str(dtype)))
    if dynamic:
        raise errors.OnnxImportError(f"input(s) with dynamic dimensions need a declared shape: {', '.join(dynamic)}",
                                     code=errors.DYNAMIC_INPUT, where=dynamic[0].split("(")[0],
                                     hint="pass --input NAME=D1,D2,... (or `inputs:` in the pipeline) for each")
    return specs


def _as_list(result, node: OnnxNode) -> list:
    if isinstance(result, (list, tuple)):
        return list(result)
    if isinstance(result, np.ndarray):
        return [result]
    n = len(result.list_outputs())
    return [result[k] for k in range(n)] if n > 1 else [result]


def _fit_shape(value: np.ndarray, tensor: str, state: GraphState) -> np.ndarray:
    """Give a folded MXNet result its ONNX shape back (MXNet has no rank-0 arrays)."""
    info = state.onnx_info.get(tensor)
    dims = None if info is None else info[1]
    if dims is not None and all(d is not None for d in dims) and int(np.prod(dims, dtype=np.int64)) == value.size:
        return value.reshape(dims)
    return value


def _fold(fn, node: OnnxNode, state: GraphState, opset: int, name: str) -> list:
    import mxnet as mx

    ctx = _FoldingContext(node, state, opset, name)
    results = _as_list(fn(node, ctx), node)
    pending = [(k, r) for k, r in enumerate(results) if r is not None and not isinstance(r, np.ndarray)]
    values = list(results)
    computed = []
    for k, sym in pending:
        if sym.get_children() is None and sym.name in ctx.feeds:  # the converter returned an input
            values[k] = ctx.feeds[sym.name]
        else:
            computed.append((k, sym))
    if computed:
        group = mx.sym.Group([s for _, s in computed])
        # Inputs are the placeholders; helper tables a converter added (param()) are params.
        known = {**state.params, **ctx.feeds}
        args = {n: mx.nd.array(known[n].reshape(mx_shape(known[n].shape)), dtype=known[n].dtype)
                for n in group.list_arguments()}
        try:
            outs = group.eval(ctx=mx.cpu(), **args)
        except mx.MXNetError as exc:
            from pipeline.onnx.importer.state import _first_line

            raise errors.OnnxImportError(f"{node.op_type} node '{node.label}': MXNet rejected the folded "
                                         f"computation: {_first_line(exc)}", code=errors.MXNET_REJECTED,
                                         where=node.label, hint="") from None
        for (k, _), out in zip(computed, outs):
            values[k] = out.asnumpy()
    for k, out_name in enumerate(node.outputs[:len(values)]):
        if out_name and values[k] is not None:
            values[k] = _fit_shape(np.asarray(values[k]), out_name, state)
    return values


def convert_node(node: OnnxNode, state: GraphState, model_opsets: dict[str, int], used: set[str]) -> None:
    opset = model_opsets[node.domain]
    fn, _ = lookup(node.op_type, node.domain, opset)
    name = state.unique_name(node.name or (node.outputs[0] if node.outputs else node.op_type))

    def standard() -> list:
        present = [t for t in node.inputs if t]
        if all(t in state.statics for t in present):
            return _fold(fn, node, state, opset, name)  # all numpy
        return _as_list(fn(node, ConvertContext(node, state, opset, name)), node)

    found = selection.reaching(node, state)  # inputs padded from a data-dependent selection
    values = selection.convert(ConvertContext(node, state, opset, name), found, standard) if found else standard()
    for k, out_name in enumerate(node.outputs):
        if not out_name:
            continue
        value = values[k] if k < len(values) else None
        if value is None:
            if out_name in used:
                raise errors.OnnxImportError(f"{node.op_type} node '{node.label}': output {k} ('{out_name}') "
                                             f"is used but this converter does not produce it",
                                             code=errors.UNSUPPORTED_ATTR, where=node.label,
                                             hint="the optional output is not supported")
            continue
        if isinstance(value, np.ndarray):
            state.statics[out_name] = value
        else:
            state.symbols[out_name] = value


def _output_symbol(vi, state: GraphState):
    import mxnet as mx

    tensor = vi.name
    sym = state.symbol(tensor)
    if sym.get_children() is None:  # a variable or a param: give the output its own node
        sym = mx.sym.identity(sym, name=state.unique_name(f"{tensor}_out"))
    elem, _ = value_type(vi)
    want = np_dtype(elem, tensor) if elem else None
    if want is not None:
        from pipeline.core.runtime_errors import runtime_call

        with runtime_call("mxnet", f"type inference of output '{tensor}'", code=errors.MXNET_REJECTED,
                          error=errors.OnnxImportError, where=tensor, hint="check the declared input dtypes"):
            _, out_types, _ = sym.infer_type(**{n: state.var_dtypes[n] for n in sym.list_arguments()
                                                if n in state.var_dtypes})
        if np.dtype(out_types[0]) != want:
            sym = mx.sym.Cast(sym, dtype=want, name=state.unique_name(f"{tensor}_cast"))
    return sym


def node_map_metadata(model, state: GraphState, outputs) -> dict:
    """The importer's record of which MXNet output carries each ONNX tensor, for localization.

    `node_map`: `[[onnx_tensor, mxnet_output], ...]` for every tensor a converter produced as a
    graph node that survives in the final Symbol (folded constants and graph inputs have none);
    `export_node_map`: the ONNX file's own record of the MXNet graph it was exported from (our
    exporter's `metadata_props`), kept so a model converted MXNet -> ONNX -> MXNet still
    matches its origin (pipeline/localize/matching.py). Recorded, never guessed from names.
    """
    from pipeline.onnx.export import valid_node_map

    alive = set(outputs.get_internals().list_outputs())
    entries = []
    for tensor, sym in state.symbols.items():
        if sym.get_children() is None:
            continue
        names = sym.list_outputs()
        if len(names) == 1 and names[0] in alive:
            entries.append([tensor, names[0]])
    out: dict = {"node_map": entries}
    exported = valid_node_map(model)
    if exported:
        out["export_node_map"] = [list(e) for e in exported]
    return out


def convert_model(model, path: Path, input_shapes: dict[str, tuple] | None,
                  constants: dict[str, np.ndarray] | None = None) -> ModelBundle:
    import mxnet as mx

    graph = model.graph
    model_opsets = opsets(model)
    nodes = [read_node(n) for n in graph.node]
    check_supported(nodes, model_opsets)
    initializers = {t.name: tensor_value(t, t.name) for t in graph.initializer}
    frozen = {k: np.asarray(v) for k, v in (constants or {}).items()}
    graph_inputs = {vi.name for vi in graph.input}
    for name in frozen:
        if name not in graph_inputs:
            raise errors.OnnxImportError(f"constant given for '{name}', which is not a graph input",
                                         code=errors.UNKNOWN_INPUT, where=name,
                                         hint=f"the model's inputs are: {', '.join(sorted(graph_inputs))}")
    initializers.update(frozen)
    specs = declared_inputs(graph, initializers, dict(input_shapes or {}))
    info, note = inferred_info(model, {s.name: s.shape for s in specs})
    state = GraphState(info)
    state.statics.update(initializers)
    for spec in specs:
        state.add_input(spec.name, spec.shape, np.dtype(spec.dtype))
    used = {t for n in nodes for t in n.inputs if t} | {vi.name for vi in graph.output}
    for node in nodes:
        convert_node(node, state, model_opsets, used)
    selection.check_outputs([vi.name for vi in graph.output], state)
    outputs = mx.sym.Group([_output_symbol(vi, state) for vi in graph.output])
    # Inputs whose values no output depends on (only their static shape was read, by Shape or
    # EyeLike) are not graph arguments; MXNet cannot bind them, so they leave the declared
    # inputs and the ONNX Runtime reference feeds them zeros.
    arguments = set(outputs.list_arguments())
    unused = [s for s in specs if s.name not in arguments]
    specs = [s for s in specs if s.name in arguments]
    metadata = {
        "source": {"kind": "onnx", "path": str(Path(path).resolve())},
        "mxnet_version": MXNET_VERSION,
        "reference": {"kind": "onnxruntime", "path": str(Path(path).resolve())},
        "onnx": {"ir_version": int(model.ir_version), "opsets": model_opsets,
                 "producer": f"{model.producer_name} {model.producer_version}".strip()},
    }
    if note:
        metadata["onnx"]["note"] = note
    metadata["onnx"].update(node_map_metadata(model, state, outputs))
    # ONNX Runtime still sees unused and frozen inputs as graph inputs: the reference feeds them.
    if unused:
        metadata["reference"]["unused_inputs"] = [s.to_dict() for s in unused]
    if frozen:
        metadata["reference"]["frozen_inputs"] = {k: {"value": v.tolist(), "dtype": str(v.dtype)}
                                                  for k, v in frozen.items()}
    return ModelBundle.from_symbol(outputs, state.params, state.params, specs, metadata=metadata,
                                   history=[{"stage": "onnx", "nodes": len(nodes)}])
