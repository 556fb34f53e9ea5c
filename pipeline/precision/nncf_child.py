"""Run OpenVINO's NNCF post-training quantization on an ONNX file, inside NNCF's own venv.

NNCF 3.x needs numpy 2, which MXNet 1.9.1 cannot load, so it lives in a separate virtual
environment (`.venv-nncf`, created by `./dev setup`) and this file is run there as a plain
script by pipeline/precision/nncf_int8.py: it imports nothing of mxdeploy, only nncf,
openvino and numpy. Calibration rows arrive as one .npz (read with allow_pickle=False),
one array per input stacked along a leading "row" axis. The result is an OpenVINO IR
(model.xml + model.bin).

The ONNX file is read by `ov.convert_model`, OpenVINO's documented way in for NNCF, not by
`Core.read_model`: the converter's offline transformations fold constants, so a grouped
convolution's weight reshape is a constant NNCF quantizes where OpenVINO's CPU plugin then runs
the depthwise convolution in int8; read as it is, that reshape stays a ShapeOf subgraph and
mobilenetv2's depthwise convolutions ran in f32 (1.4x slower; bench/bench_peers.py).

The last line on stdout is one JSON object: {"ok": true, ...} or
{"ok": false, "error": one line}; everything else NNCF prints goes to stderr, for the log.

    python nncf_child.py MODEL.onnx CALIB.npz OUT.xml [--preset performance|mixed]
           [--transformer] [--ignore NODE]... [--no-fast-bias-correction]
"""
from __future__ import annotations

import argparse
import json
import sys


def ignored_ops(model, onnx_names: list[str]) -> list[str]:
    """The OpenVINO ops made of these ONNX nodes: of the same name, or it and a "/" suffix
    (OpenVINO splits an ONNX Conv with a bias into `name/WithoutBiases` and the bias Add). An
    ONNX node the converter folded away (a reshape's shape constant) has no op: dropped."""
    names = set(onnx_names)
    return [op.get_friendly_name() for op in model.get_ops()
            if op.get_type_name() != "Constant" and op.get_friendly_name().split("/")[0] in names]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nncf_child")
    parser.add_argument("model")
    parser.add_argument("calibration")
    parser.add_argument("out")
    parser.add_argument("--preset", choices=("performance", "mixed"), default="performance")
    parser.add_argument("--transformer", action="store_true")
    parser.add_argument("--ignore", action="append", default=[])
    parser.add_argument("--no-fast-bias-correction", action="store_true")
    args = parser.parse_args(argv)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # NNCF's progress bars and logs: to the log, never into our JSON line
    try:
        import nncf
        import numpy as np
        import openvino as ov

        with np.load(args.calibration, allow_pickle=False) as data:
            names = list(data.files)
            stacked = {n: data[n] for n in names}
        rows = [{n: stacked[n][i] for n in names} for i in range(len(stacked[names[0]]))]
        model = ov.convert_model(args.model)
        kwargs = {"preset": getattr(nncf.QuantizationPreset, args.preset.upper()),
                  "subset_size": len(rows), "fast_bias_correction": not args.no_fast_bias_correction}
        if args.transformer:
            kwargs["model_type"] = nncf.ModelType.TRANSFORMER
        ignored = ignored_ops(model, args.ignore)
        if args.ignore and not ignored:
            raise ValueError(f"none of the excluded nodes is in OpenVINO's model: {', '.join(args.ignore[:5])}")
        if ignored:
            kwargs["ignored_scope"] = nncf.IgnoredScope(names=ignored)
        quantized = nncf.quantize(model, nncf.Dataset(rows), **kwargs)
        ov.save_model(quantized, args.out, compress_to_fp16=False)
        result = {"ok": True, "nncf": nncf.__version__, "openvino": ov.get_version(), "rows": len(rows),
                  "ignored": len(ignored)}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one coded line
        import traceback

        traceback.print_exc()
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        result = {"ok": False, "error": f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500]}
    print(json.dumps(result), file=real_stdout, flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
