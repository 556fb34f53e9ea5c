"""How much memory a model needs to run one forward pass: params + inputs + planned activations.

An accelerator holds the whole model: every parameter, the input arrays it is sent, and the
intermediate tensors (activations) of a forward pass. Params and inputs are exact byte counts.
Activations are not simply "the sum of all intermediate tensors": MXNet's graph executor runs
a static memory planner (nnvm's `PlanMemory` pass, src/nnvm/plan_memory.cc) that

- walks the graph in topological order, reference-counting every tensor;
- lets an op write its output into its input's buffer when the op allows it
  (`FInplaceOption`) and nothing else reads that input any more;
- returns a buffer to a free list when its last reader has run, and serves a later request
  from the free list when a free buffer is within a factor `MXNET_EXEC_MATCH_RANGE` (16) of the
  requested size, growing the buffer to the larger of the two;
- allocates hidden outputs too (BatchNorm's saved mean/var, Dropout's mask), which no op reads;
- runs after the executor's common-expression elimination, which merges identical branches.

The total it reports (`Executor.debug_str()`: "Total N MB allocated") is the sum of the final
sizes of those buffers; params, inputs and temp workspace are not part of it. `plan_activations`
replays that algorithm on our own shape inference, so its result tracks MXNet's number
(tests/pipeline/test_memory.py compares the two on the whole vision zoo; bench/memory_vs_mxnet.py
prints the table). It models the graph as saved. MXNet's CPU executor by default also rewrites
the graph at bind (the oneDNN subgraph backend fuses Conv+BN+ReLU), which changes its figure
both ways: ResNet-18 at batch 32 needs 150 MB fused against 226 MB planned unfused, DenseNet-121
296 MB against 267 MB. An accelerator runs its own runtime, not oneDNN, so the unfused plan is
the reference here.
"""
from __future__ import annotations

import bisect
import contextlib
import functools
import io
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np

from pipeline.core.errors import InternalError, ModelError
from pipeline.model.symbol_json import node_attrs

MATCH_RANGE = 16  # MXNET_EXEC_MATCH_RANGE default

# op -> [(input index, output index, identity)]: MXNet's FInplaceOption / FInplaceIdentity for
# the forward ops of inference graphs. An op missing here never shares its input's buffer.
_UNARY = [(0, 0, False)]
_IDENTITY = [(0, 0, True)]
INPLACE: dict[str, list[tuple[int, int, bool]]] = {
    "Activation": _UNARY,
    "LeakyReLU": _UNARY, "Dropout": _UNARY, "softmax": _UNARY, "log_softmax": _UNARY,
    "relu": _UNARY, "sigmoid": _UNARY, "tanh": _UNARY, "exp": _UNARY,
    "log": _UNARY, "sqrt": _UNARY, "square": _UNARY, "abs": _UNARY, "negative": _UNARY,
    "_copy": _IDENTITY, "identity": _IDENTITY, "BlockGrad": _IDENTITY, "stop_gradient": _IDENTITY,
    "_plus_scalar": _UNARY, "_minus_scalar": _UNARY, "_rminus_scalar": _UNARY,
    "_mul_scalar": _UNARY, "_div_scalar": _UNARY, "_rdiv_scalar": _UNARY, "_power_scalar": _UNARY,
    "elemwise_add": [(0, 0, False), (1, 0, False)],
    "elemwise_sub": [(0, 0, False), (1, 0, False)],
    "elemwise_mul": [(0, 0, False), (1, 0, False)],
    "elemwise_div": [(0, 0, False), (1, 0, False)],
    "broadcast_add": [(0, 0, False), (1, 0, False)],
    "broadcast_sub": [(0, 0, False), (1, 0, False)],
    "broadcast_mul": [(0, 0, False), (1, 0, False)],
    "broadcast_div": [(0, 0, False), (1, 0, False)],
    "Reshape": _IDENTITY, "Flatten": _IDENTITY, "expand_dims": _IDENTITY,
    "squeeze": _IDENTITY, "reshape_like": _IDENTITY,
    "SoftmaxOutput": _UNARY, "LinearRegressionOutput": _UNARY,
    "LogisticRegressionOutput": _UNARY, "MAERegressionOutput": _UNARY,
}


def _hidden_pooling(attrs, in_shapes, out_shapes):
    """oneDNN max pooling keeps a workspace the size of its output (MXNet built with oneDNN)."""
    return [out_shapes[0]] if attrs.get("pool_type", "max") == "max" else []


def _hidden_batchnorm(attrs, in_shapes, out_shapes):
    axis = int(attrs.get("axis", 1))
    return [(in_shapes[0][axis],), (in_shapes[0][axis],)]  # saved mean and var


# op -> f(attrs, input shapes) -> shapes of outputs that are allocated but not visible.
HIDDEN_OUTPUTS = {
    "BatchNorm": _hidden_batchnorm,
    "Dropout": lambda attrs, in_shapes, out_shapes: [in_shapes[0]],  # the mask
    "LRN": lambda attrs, in_shapes, out_shapes: [in_shapes[0]],      # tmp_norm
    "Pooling": _hidden_pooling,
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a forward pass needs at one set of input shapes."""

    params_bytes: int
    input_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.params_bytes + self.input_bytes + self.activation_bytes

    def to_dict(self) -> dict:
        return {"params_bytes": self.params_bytes, "input_bytes": self.input_bytes,
                "activation_bytes": self.activation_bytes, "total_bytes": self.total_bytes}


def mxnet_message(exc: Exception) -> str:
    """The first line of an MXNetError without its '[12:00:00] ../src/file.cc:151: ' prefix."""
    from pipeline.core.runtime_errors import first_error_line

    return first_error_line(exc)


def _itemsize(dtype) -> int:
    return int(np.dtype(dtype).itemsize)


def infer_entries(symbol_json: str, shapes: dict[str, tuple], dtypes: dict[str, str]):
    """Shape and dtype of every visible node output, keyed by (node id, output index).

    Raises ModelError when MXNet cannot infer the shapes from the given inputs.
    """
    import mxnet as mx

    sym = mx.sym.load_json(symbol_json)
    internals = sym.get_internals()
    try:
        # MXNet prints the arguments to stdout when inference fails; keep stdout clean for --json.
        with contextlib.redirect_stdout(io.StringIO()):
            _, out_shapes, _ = internals.infer_shape(**{k: tuple(v) for k, v in shapes.items()})
            _, out_types, _ = internals.infer_type(**{k: np.dtype(v) for k, v in dtypes.items()})
    except mx.MXNetError as exc:
        raise ModelError(f"shape inference failed for inputs {dict(shapes)}: {mxnet_message(exc)}",
                         hint="declare every input with a shape the graph accepts") from None
    if out_shapes is None or any(s is None for s in out_shapes):
        raise ModelError(f"shapes are not fully known from inputs {dict(shapes)}",
                         hint="declare every input of the graph with its shape")
    names = [internals[i].name for i in range(len(out_shapes))]
    nodes = json.loads(symbol_json)["nodes"]
    entries: dict[tuple[int, int], tuple[tuple, str]] = {}
    pos = 0
    for nid, node in enumerate(nodes):
        index = 0
        while pos < len(names) and names[pos] == node["name"] and (index == 0 or node["op"] != "null"):
            entries[(nid, index)] = (tuple(out_shapes[pos]), np.dtype(out_types[pos]).name)
            pos += 1
            index += 1
        if index == 0:
            raise InternalError(f"internals of the graph do not follow its node order at '{node['name']}'")
    return nodes, entries


class _Allocator:
    """nnvm's GraphAllocator: a free list keyed by size, matched within MATCH_RANGE."""

    def __init__(self):
        self.max_bytes: list[int] = []
        # sorted (bytes, release order, storage id): like nnvm's std::multimap, equal sizes
        # keep the order they were released in.
        self._free: list[tuple[int, int, int]] = []
        self._released = 0

    def request(self, size: int) -> int:
        """The smallest free block >= size (up to x16), else the largest smaller (down to /16)."""
        lo = bisect.bisect_left(self._free, (size // MATCH_RANGE, -1, -1))
        mid = bisect.bisect_left(self._free, (size, -1, -1))
        hi = bisect.bisect_right(self._free, (size * MATCH_RANGE, 1 << 62, 1 << 62))
        pick = mid if mid < hi else (mid - 1 if mid > lo else None)
        if pick is None:
            self.max_bytes.append(size)
            return len(self.max_bytes) - 1
        _, _, sid = self._free.pop(pick)
        self.max_bytes[sid] = max(self.max_bytes[sid], size)
        return sid

    def release(self, sid: int) -> None:
        self._released += 1
        bisect.insort(self._free, (self.max_bytes[sid], self._released, sid))


# Ops MXNet's common-expression elimination never merges: they mutate inputs (BatchNorm's
# moving stats), draw random numbers or hold state.
NO_CSE = frozenset({"Dropout", "BatchNorm", "Custom", "RNN"})
_RANDOM_PREFIXES = ("_random_", "_sample_", "random_", "sample_", "_npi_random", "_contrib_rand")


def eliminate_common_expr(nodes: list[dict], heads: list) -> tuple[list[dict], list]:
    """Merge op nodes with the same op, attrs and inputs, as MXNet's executor does at bind.

    MXNet 1.9 runs this pass (MXNET_ELIMINATE_COMMON_EXPR, on by default) before planning
    memory; two identical branches share one buffer. Merged nodes become variables with no
    inputs (so they are neither planned nor referenced) and every reference points at the
    node that is kept.
    """
    canon: dict[int, int] = {}
    seen: dict[tuple, int] = {}
    out = []
    for nid, node in enumerate(nodes):
        inputs = [[canon.get(i[0], i[0]), i[1], *i[2:]] for i in node["inputs"]]
        node = {**node, "inputs": inputs}
        op = node["op"]
        if op != "null" and op not in NO_CSE and not op.startswith(_RANDOM_PREFIXES):
            key = (op, json.dumps(node_attrs(node), sort_keys=True), tuple((i[0], i[1]) for i in inputs))
            if key in seen:
                canon[nid] = seen[key]
                node = {"op": "null", "name": node["name"], "inputs": [], "merged": True}
            else:
                seen[key] = nid
        out.append(node)
    return out, [[canon.get(h[0], h[0]), h[1], *h[2:]] for h in heads]


def plan_activations(nodes: list[dict], entries: dict, heads: list) -> int:
    """Replay MXNet's static memory plan over the graph; returns the planned bytes."""
    nodes, heads = eliminate_common_expr(nodes, heads)
    entries = {k: v for k, v in entries.items() if not nodes[k[0]].get("merged")}
    shapes = dict(entries)
    visible_count = Counter(nid for nid, _ in entries)
    for nid, node in enumerate(nodes):
        hidden = HIDDEN_OUTPUTS.get(node["op"])
        if hidden and node["op"] != "null":
            visible = visible_count[nid]
            in_shapes = [entries[(i[0], i[1])][0] for i in node["inputs"]]
            out_shapes = [entries[(nid, j)][0] for j in range(visible)]
            for j, shape in enumerate(hidden(node_attrs(node), in_shapes, out_shapes)):
                shapes[(nid, visible + j)] = (tuple(shape), entries[(nid, 0)][1])
    ref = {k: 0 for k in shapes}
    for node in nodes:
        for i in node["inputs"]:
            ref[(i[0], i[1])] += 1
    for h in heads:
        ref[(h[0], h[1])] += 1
    alloc = _Allocator()
    storage: dict[tuple, int] = {}  # entry -> storage id; variables are external (absent)
    sref: dict[int, int] = {}
    outputs_of: dict[int, list[tuple]] = {}
    for key in sorted(shapes):
        outputs_of.setdefault(key[0], []).append(key)

    def nbytes(key):
        shape, dtype = shapes[key]
        return int(np.prod(shape, dtype=np.int64)) * _itemsize(dtype)

    for nid, node in enumerate(nodes):
        if node["op"] == "null":
            continue
        taken = set()
        for in_idx, out_idx, identity in INPLACE.get(node["op"], []):
            if in_idx >= len(node["inputs"]) or (nid, out_idx) not in shapes:
                continue
            src = tuple(node["inputs"][in_idx][:2])
            sid = storage.get(src)
            out = (nid, out_idx)
            same_size = nbytes(out) == nbytes(src)
            if (in_idx not in taken and out not in storage and sid is not None
                    and (sref[sid] == 1 or identity) and ref[out] > 0 and same_size):
                taken.add(in_idx)
                storage[out] = sid
                sref[sid] += ref[out]
        pending = [k for k in outputs_of.get(nid, []) if k not in storage]
        # nnvm walks a multimap of (size -> output) backwards: largest first, and among equal
        # sizes the later output first.
        for key in sorted(pending, key=lambda k: (int(np.prod(shapes[k][0], dtype=np.int64)), k[1]), reverse=True):
            sid = alloc.request(nbytes(key))
            storage[key] = sid
            sref[sid] = ref[key]
        for i in node["inputs"]:
            sid = storage.get((i[0], i[1]))
            if sid is None:
                continue
            sref[sid] -= 1
            if sref[sid] == 0:
                alloc.release(sid)
        for key in outputs_of.get(nid, []):
            sid = storage[key]
            if sref[sid] == 0:
                alloc.release(sid)
    return int(sum(alloc.max_bytes))


@functools.lru_cache(maxsize=64)
def _estimate_cached(symbol_json: str, shapes: tuple, dtypes: tuple, params_bytes: int) -> MemoryEstimate:
    shape_map = {k: tuple(v) for k, v in shapes}
    dtype_map = dict(dtypes)
    nodes, entries = infer_entries(symbol_json, shape_map, dtype_map)
    heads = json.loads(symbol_json)["heads"]
    activations = plan_activations(nodes, entries, heads)
    inputs = sum(int(np.prod(s, dtype=np.int64)) * _itemsize(dtype_map.get(k, "float32"))
                 for k, s in shape_map.items())
    return MemoryEstimate(params_bytes=params_bytes, input_bytes=int(inputs), activation_bytes=activations)


def estimate(bundle, shapes: dict[str, tuple] | None = None) -> MemoryEstimate:
    """Memory of one forward pass of `bundle` at `shapes` (default: its declared inputs).

    Label inputs of training heads that are not declared get their inferred shape (they must
    be bound to something, as the cpu target does) and count as inputs.
    """
    shapes = dict(bundle.input_shapes() if shapes is None else shapes)
    dtypes = {s.name: s.dtype for s in bundle.inputs}
    shapes = _with_labels(bundle.symbol_json, shapes)
    return _estimate_cached(bundle.symbol_json, tuple(sorted((k, tuple(v)) for k, v in shapes.items())),
                            tuple(sorted(dtypes.items())), bundle.params_bytes())


def _with_labels(symbol_json: str, shapes: dict) -> dict:
    from pipeline.model.labels import label_variables

    labels = [n for n in label_variables(symbol_json) if n not in shapes]
    if not labels:
        return shapes
    import mxnet as mx

    sym = mx.sym.load_json(symbol_json)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            arg_shapes, _, _ = sym.infer_shape_partial(**shapes)
    except mx.MXNetError:
        return shapes
    inferred = dict(zip(sym.list_arguments(), arg_shapes))
    return {**shapes, **{n: tuple(inferred[n]) for n in labels if inferred.get(n) and all(inferred[n])}}
