"""Shared by the targets that serve the exported ONNX (onnxruntime, openvino).

Deploy exports the bundle with pipeline.onnx.export (opset pinned, initializers kept out of
the graph inputs, labels stripped) into a temp folder the target owns and removes on close, or
into `export_dir` when the caller wants to keep the file. A bundle quantized to int8 QDQ by the
quantize stage is not exported: its file is served, found under the `base_dir` option (the run
directory) and checked against its recorded sha256 (pipeline/model/quantized.py). Subclasses open their runtime on
that file in `_open(path)` and run it in `_run(feed)`; options are checked here, against
each target's `option_types`, so a typo is an error and not a silently ignored key.
"""
from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import ClassVar

import numpy as np

from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import TargetError
from pipeline.onnx import export_warnings
from pipeline.onnx.export import DEFAULT_OPSET, exportable_ops, export_bundle
from pipeline.core.registry import did_you_mean
from pipeline.targets.base import Target

ONNX_FILE = "model.onnx"


class ExportedOnnxTarget(Target):
    """A target that runs the bundle's ONNX export; subclasses implement `_open` and `_run`."""

    # The Symbol's export, or the quantize stage's int8 QDQ file in its place.
    precisions = frozenset({"fp32", "int8"})
    formats = frozenset({"onnx", "onnx-qdq"})
    # option -> (accepted types, default, check, what a valid value is)
    option_types: ClassVar[dict[str, tuple]] = {
        "threads": (int, 0, lambda v: v >= 0, "a thread count >= 0 (0: the runtime's default)"),
        "export_dir": ((str, Path), None, lambda v: True, "a folder path"),
        "opset": (int, DEFAULT_OPSET, lambda v: True, "an ONNX opset number"),
        # Keep MXNet's Embedding index clipping in the export (pipeline/onnx/export_embedding.py).
        "clip_indices": (bool, False, lambda v: True, "true or false"),
        # The run directory a quantized bundle's ONNX file is relative to (pipeline/model/quantized.py).
        "base_dir": ((str, Path), None, lambda v: True, "a folder path"),
        # The deploy and verify stages pass every target the MXNet binding API; the exported
        # graph has one way in, which the Symbol API's name stands for. 'module' is refused
        # rather than ignored.
        "api": (str, "symbol", lambda v: v == "symbol",
                "'symbol' (the ONNX targets serve the exported graph; the Module API does not apply)"),
    }

    @classmethod
    def supported_ops(cls) -> frozenset[str]:
        """What the exporter translates: ops outside it never reach the runtime."""
        return exportable_ops()

    def option(self, name: str):
        return self.options.get(name, self.option_types[name][1])

    def _check_options(self) -> None:
        for key, value in self.options.items():
            if key not in self.option_types:
                known = sorted(self.option_types)
                raise TargetError(f"target '{self.name}' has no option '{key}'{did_you_mean(key, known)}",
                                  code="TGT101", where=key, hint=f"options: {', '.join(known)}")
            types, _, ok, expected = self.option_types[key]
            if value is None and self.option_types[key][1] is None:
                continue
            if (isinstance(value, bool) and types is not bool) or not isinstance(value, types) or not ok(value):
                raise TargetError(f"target '{self.name}': option {key}={value!r} is invalid", code="TGT102",
                                  where=key, hint=f"expected {expected}")

    def _node_names(self) -> list[str]:
        """The deployed graph's MXNet node names: what a runtime's error text is searched for."""
        if getattr(self, "_names", None) is None:  # parsed once per deployment, not per forward
            self._names = [] if self.bundle is None else \
                [n["name"] for n in self.bundle.graph()["nodes"] if n["op"] != "null"]
        return self._names

    def onnx_path(self) -> Path | None:
        """Where the deployed model's ONNX file is (None before deploy)."""
        return getattr(self, "_onnx_path", None)

    def _deploy_impl(self, bundle: ModelBundle) -> None:
        self._check_options()
        self._names = None
        export_dir = self.option("export_dir")
        if export_dir is None:
            tmp = tempfile.mkdtemp(prefix=f"mxdeploy-{self.name}-")
            # Removed on close, or when the target is garbage-collected without a close.
            self._cleanup = weakref.finalize(self, shutil.rmtree, tmp, True)
            folder = Path(tmp)
        else:
            self._cleanup = None
            folder = Path(export_dir)
        try:
            with export_warnings.captured(quiet=False) as logged:
                self._onnx_path = self._model_file(bundle, folder)
            self.deploy_diagnostics += export_warnings.diagnostics(
                logged, [n for n in bundle.graph()["nodes"] if n["op"] != "null"])
            self._dtypes = {s.name: np.dtype(s.dtype) for s in bundle.inputs}
            self._open(self._onnx_path)
        except BaseException:
            self._release()
            raise

    def write_model_file(self, bundle: ModelBundle, folder: Path) -> Path:
        """Write the file deploy serves into `folder` (the export is deterministic): deploy keeps a
        refused one in its stage folder, since the temp copy the runtime read is gone after close."""
        self._check_options()
        folder.mkdir(parents=True, exist_ok=True)
        return self._model_file(bundle, folder)

    def _model_file(self, bundle: ModelBundle, folder: Path) -> Path:
        """The ONNX file to serve: the quantize stage's QDQ file when the bundle has one (the
        Symbol is still the fp32 graph then), else a fresh export of the Symbol."""
        rec = quantized.record(bundle.metadata)
        if rec is not None and rec.get("format") in quantized.FILE_FORMATS:
            return quantized.artifact_path(bundle.metadata, self.option("base_dir"))
        return export_bundle(bundle, folder / ONNX_FILE, opset=self.option("opset"),
                             clip_indices=self.option("clip_indices"))

    def _infer_impl(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        # Runtimes take exactly the declared dtype; MXNet casts on copy, so cast the same way.
        return self._run({n: np.ascontiguousarray(feed[n], dtype=dt) for n, dt in self._dtypes.items()})

    def _close_impl(self) -> None:
        self._release()

    def _release(self) -> None:
        self._close_runtime()
        if getattr(self, "_cleanup", None) is not None:
            self._cleanup()
            self._cleanup = None

    # -- hooks for subclasses ----------------------------------------------------------------
    def _open(self, path: Path) -> None:
        raise NotImplementedError

    def _run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def _close_runtime(self) -> None:
        raise NotImplementedError
