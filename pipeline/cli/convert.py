"""`pipeline convert SRC DST`: between ONNX files, MXNet checkpoints and zoo models.

SRC is an .onnx file (our importer), a checkpoint prefix or a vision zoo name; DST ending in
.onnx is exported with the opset pinned (pipeline/onnx/export.py), anything else is a
checkpoint prefix (DST-symbol.json, DST-0000.params) that `mx.model.load_checkpoint` opens.
Outputs are written atomically: a failure leaves the old files or none.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import UsageError
from pipeline.model.resolve import load_model, parse_input_arg

HELP = "convert a model: ONNX <-> MXNet checkpoint, or a zoo model to either"


def add_arguments(parser) -> None:
    parser.add_argument("src", help="an .onnx file, a checkpoint prefix (PREFIX-symbol.json) or a zoo name")
    parser.add_argument("dst", help="X.onnx, or a checkpoint prefix to write PREFIX-symbol.json + PREFIX-0000.params")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=D1,D2,...[:OPTS]",
                        help="an input's shape[:dtype][:low..high][:int][:batch=A][:dyn=A,..] (docs/stages.md, "
                             "Inputs); repeatable (needed for checkpoints and dynamic ONNX dims)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset of an .onnx DST (default: pinned 13)")


def main(args) -> int:
    inputs = [parse_input_arg(text) for text in args.input]
    dst = Path(args.dst)
    if dst.suffix != ".onnx" and args.opset is not None:
        raise UsageError("--opset applies only to an .onnx destination", where="--opset")
    if not dst.parent.is_dir():
        raise UsageError(f"the destination folder {dst.parent} does not exist", where=args.dst,
                         hint="create it first")
    bundle = load_model(args.src, inputs)
    from pipeline.core.atomic import sweep_stale_temps

    names = (dst.name,) if dst.suffix == ".onnx" else (f"{dst.name}-symbol.json", f"{dst.name}-0000.params")
    sweep_stale_temps(dst.parent, only=names)  # left by an earlier convert to DST killed mid-write
    if dst.suffix == ".onnx":
        from pipeline.onnx.export import DEFAULT_OPSET, export_bundle

        export_bundle(bundle, dst, opset=args.opset or DEFAULT_OPSET)
        print(f"{args.src} -> {dst}")
    else:
        sym_path, params_path = bundle.write_checkpoint(dst)
        print(f"{args.src} -> {sym_path}, {params_path}")
    return 0
