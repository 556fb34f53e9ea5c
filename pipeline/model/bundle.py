"""ModelBundle: the one contract between stages.

A bundle is a Symbol graph (JSON), its arg and aux params, the declared inputs, the outputs,
metadata (source, the MXNet version that saved the graph, the reference to compare against)
and the history of stages applied. On disk it is a standard MXNet checkpoint
(`model-symbol.json`, `model-0000.params`) plus `bundle.json`, which records a sha256 of each
file: MXNet loads a params file whose second half was zeroed without complaint, so `load`
refuses any file whose hash does not match.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.core import atomic
from pipeline.model import bf16
from pipeline.core.errors import BundleError

BUNDLE_FILE = "bundle.json"
SYMBOL_FILE = "model-symbol.json"
PARAMS_FILE = "model-0000.params"
PREFIX = "model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TensorSpec:
    """A declared model input: name, shape and dtype, and how to draw valid random values for it.

    `range` is [low, high) for random feeds and calibration; `integer` draws whole numbers even
    into a float input (GluonNLP takes token ids as float32); integer dtypes always draw whole
    numbers. `batch_axis` is where samples stack (1 for the (seq, batch) layout of an LSTM);
    `dynamic` lists axes exported symbolic to ONNX and verified at a second size (`resized`).
    Defaults are left out of `to_dict`, so bundles of plain inputs keep their manifests.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    range: tuple[float, float] | None = None
    integer: bool = False
    batch_axis: int = 0
    dynamic: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        out = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.range is not None:
            out["range"] = list(self.range)
        if self.integer:
            out["integer"] = True
        if self.batch_axis:
            out["batch_axis"] = self.batch_axis
        if self.dynamic:
            out["dynamic"] = list(self.dynamic)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TensorSpec":
        value_range = data.get("range")
        return cls(data["name"], tuple(int(d) for d in data["shape"]), data.get("dtype", "float32"),
                   range=tuple(value_range) if value_range is not None else None,
                   integer=bool(data.get("integer", False)), batch_axis=int(data.get("batch_axis", 0)),
                   dynamic=tuple(int(a) for a in data.get("dynamic", ())))

    @property
    def whole_numbers(self) -> bool:
        """Random values are integers: an integer dtype, or `integer: true` on a float input."""
        return self.integer or np.issubdtype(np.dtype(self.dtype), np.integer)

    @property
    def batch(self) -> int:
        return self.shape[self.batch_axis] if self.shape else 1

    def with_shape(self, shape: tuple[int, ...]) -> "TensorSpec":
        return TensorSpec(self.name, tuple(shape), self.dtype, self.range, self.integer, self.batch_axis,
                          self.dynamic)

    def resized(self) -> "TensorSpec":
        """The second verified size of a dynamic input: batch + 1 on the batch axis, x 2 on
        every other dynamic axis (a sequence length). One rule for every input, so dims the
        model ties (the sequence axis of token ids, types and mask) stay equal."""
        shape = list(self.shape)
        for axis in self.dynamic:
            shape[axis] = shape[axis] + 1 if axis == self.batch_axis else shape[axis] * 2
        return self.with_shape(tuple(shape))


def range_problem(value_range, dtype: str, whole: bool) -> str:
    """Why `value_range` is no valid [low, high) for `dtype` ('' when it is)."""
    if not isinstance(value_range, list) or len(value_range) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value_range):
        return f"expected [low, high) as two numbers, got {value_range!r}"
    low, high = value_range
    if not math.isfinite(low) or not math.isfinite(high) or low >= high:
        return f"low must be below high (finite), got [{low}, {high})"
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.integer):
        info = np.iinfo(kind)
        if low < info.min or high - 1 > info.max:
            return f"[{low}, {high}) does not fit {dtype} ({info.min}..{info.max})"
    else:
        limit = float(np.finfo(kind).max)
        if abs(low) > limit or abs(high) > limit:
            return f"[{low}, {high}) does not fit {dtype} (|x| <= {limit:g})"
        if whole and max(abs(low), abs(high)) > 2 ** (np.finfo(kind).nmant + 1):
            return f"whole numbers up to {max(abs(low), abs(high)):g} are not exact in {dtype}"
    if whole and math.ceil(low) >= math.ceil(high):
        return f"[{low}, {high}) holds no whole number (integer input)"
    return ""


def sha256_file(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks (params files are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def graph_mxnet_version(symbol_json: str) -> int | None:
    """The MXNet version (e.g. 10901) recorded in a symbol JSON, or None for legacy files."""
    attrs = json.loads(symbol_json).get("attrs", {})
    version = attrs.get("mxnet_version")
    if isinstance(version, list) and len(version) == 2:
        return int(version[1])
    return None


@dataclass
class ModelBundle:
    """The model as it travels between stages; picklable plain data (numpy, not NDArray)."""

    symbol_json: str
    arg_params: dict[str, np.ndarray]
    aux_params: dict[str, np.ndarray]
    inputs: list[TensorSpec]
    outputs: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    # -- views ---------------------------------------------------------------------------
    def symbol(self):
        import mxnet as mx

        return mx.sym.load_json(self.symbol_json)

    def graph(self) -> dict:
        return json.loads(self.symbol_json)

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        return {spec.name: spec.shape for spec in self.inputs}

    def params_bytes(self) -> int:
        return int(sum(a.nbytes for a in self.arg_params.values()) + sum(a.nbytes for a in self.aux_params.values()))

    def node_count(self) -> int:
        return sum(1 for n in self.graph()["nodes"] if n["op"] != "null")

    def mx_params(self):
        """(arg_params, aux_params) as NDArray dicts, as `load_checkpoint` returns them.

        Params the graph declares bfloat16 are narrowed from their float32 storage (pipeline/model/bf16.py).
        """
        narrow = bf16.declared(self.symbol_json)
        return bf16.to_ndarrays(self.arg_params, narrow), bf16.to_ndarrays(self.aux_params, narrow)

    def evolve(self, *, stage: str, details: dict | None = None, **changes) -> "ModelBundle":
        """A copy with `changes` applied and a history entry for `stage`."""
        new = copy.copy(self)
        for key, value in changes.items():
            setattr(new, key, value)
        new.metadata = copy.deepcopy(changes.get("metadata", self.metadata))
        new.history = list(self.history) + [{"stage": stage, **(details or {})}]
        return new

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def from_symbol(cls, sym, arg_params, aux_params, inputs, *, metadata=None, history=None) -> "ModelBundle":
        """Build from an MXNet Symbol and NDArray (or numpy) params, keeping only graph params."""
        args = set(sym.list_arguments())
        auxs = set(sym.list_auxiliary_states())
        return cls(
            symbol_json=symbol_json(sym),
            arg_params={k: bf16.to_numpy(v) for k, v in arg_params.items() if k in args},
            aux_params={k: bf16.to_numpy(v) for k, v in aux_params.items() if k in auxs},
            inputs=list(inputs),
            outputs=list(sym.list_outputs()),
            metadata=dict(metadata or {}),
            history=list(history or []),
        )

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the checkpoint files then bundle.json (last, so its presence means complete).

        An older bundle.json in `folder` is removed first: interrupted (kill -9) between the
        new files and the new manifest, the folder holds no bundle rather than an old
        manifest over new files.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / BUNDLE_FILE).unlink(missing_ok=True)
        self.write_checkpoint(folder / PREFIX)
        manifest = {
            "format": FORMAT_VERSION,
            "files": {name: sha256_file(folder / name) for name in (SYMBOL_FILE, PARAMS_FILE)},
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": self.outputs,
            "metadata": self.metadata,
            "history": self.history,
        }
        atomic.write_json(folder / BUNDLE_FILE, manifest)
        return folder / BUNDLE_FILE

    def write_checkpoint(self, prefix: str | Path, epoch: int = 0) -> tuple[Path, Path]:
        """Write PREFIX-symbol.json and PREFIX-EPOCH.params, as MXNet names them: the old pair or none.

        Two files cannot be renamed at once, so both are written to temp files first, then the
        old symbol file is removed, the params renamed in and the symbol renamed in last: a
        kill -9 at any point leaves the old checkpoint, no loadable checkpoint (params without
        a symbol), or the new one; never a new graph over old weights.
        """
        import mxnet as mx

        sym_path, params_path = Path(f"{prefix}-symbol.json"), Path(f"{prefix}-{epoch:04d}.params")
        arrays = {f"arg:{k}": mx.nd.array(v, dtype=v.dtype) for k, v in self.arg_params.items()}
        arrays.update({f"aux:{k}": mx.nd.array(v, dtype=v.dtype) for k, v in self.aux_params.items()})
        with atomic.atomic_path(sym_path) as sym_tmp:
            sym_tmp.write_text(self.symbol_json, "utf-8")
            with atomic.atomic_path(params_path) as params_tmp:
                mx.nd.save(str(params_tmp), arrays)
                sym_path.unlink(missing_ok=True)
        return sym_path, params_path

    @classmethod
    def load(cls, folder: str | Path) -> "ModelBundle":
        """Read a saved bundle, refusing any file whose sha256 differs from bundle.json."""
        folder = Path(folder)
        manifest_path = folder / BUNDLE_FILE
        try:
            manifest = json.loads(manifest_path.read_text("utf-8"))
        except FileNotFoundError:
            raise BundleError("no bundle here", where=str(manifest_path), code="BND001",
                              hint="point at a stage folder that holds bundle.json") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"bundle.json is not valid JSON ({exc})", where=str(manifest_path), code="BND003",
                              hint="re-run the stage that wrote it") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION or "files" not in manifest:
            raise BundleError("bundle.json has an unknown format", where=str(manifest_path), code="BND003",
                              hint="re-run the stage that wrote it")
        for name, expected in manifest["files"].items():
            path = folder / name
            if not path.is_file():
                raise BundleError(f"{name} is missing", where=str(path), code="BND004",
                                  hint="re-run the stage that wrote the bundle")
            if sha256_file(path) != expected:
                raise BundleError(f"{name} was changed after the bundle was written (sha256 mismatch)",
                                  where=str(path), code="BND002",
                                  hint="restore the file or re-run the stage that wrote it")
        return cls._read_checkpoint(folder, manifest)

    @classmethod
    def _read_checkpoint(cls, folder: Path, manifest: dict) -> "ModelBundle":
        import mxnet as mx

        symbol_json = (folder / SYMBOL_FILE).read_text("utf-8")
        arg_params, aux_params = {}, {}
        for key, value in mx.nd.load(str(folder / PARAMS_FILE)).items():
            kind, _, name = key.partition(":")
            (arg_params if kind == "arg" else aux_params)[name] = value.asnumpy()
        return cls(
            symbol_json=symbol_json,
            arg_params=arg_params,
            aux_params=aux_params,
            inputs=[TensorSpec.from_dict(s) for s in manifest["inputs"]],
            outputs=list(manifest.get("outputs", [])),
            metadata=manifest.get("metadata", {}),
            history=manifest.get("history", []),
        )


def symbol_json(sym) -> str:
    """The Symbol's JSON with every node kept.

    MXNet 1.9.1's `Symbol.tojson()` drops `amp_cast` nodes by default (remove_amp_cast=True), so an
    AMP bf16 graph would lose the cast of its fp32 input and no longer bind ("requires uniform type").
    """
    return sym.tojson(remove_amp_cast=False)

