"""The peer of bench/bench_peers.py: OpenVINO + NNCF int8 made as NNCF's documentation makes it.

Runs in NNCF's venv (`.venv-nncf`: NNCF 3.x needs numpy 2), and on purpose imports nothing of
mxdeploy, so the peer is not our quantizer under another name:

    .venv-nncf/bin/python bench/nncf_peer.py MODEL.onnx CALIB.npz OUT.xml [--read-model]

The documented flow converts the ONNX file with `ov.convert_model`, then calls `nncf.quantize`
with its defaults on the calibration rows and saves the IR. `--read-model` reads the ONNX file
with `Core.read_model` instead, the route issue 19's first table measured. CALIB.npz holds one
array per input with the rows stacked on a leading axis (read with allow_pickle=False).
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nncf_peer")
    parser.add_argument("model")
    parser.add_argument("calibration")
    parser.add_argument("out")
    parser.add_argument("--read-model", action="store_true")
    args = parser.parse_args(argv)

    import nncf
    import numpy as np
    import openvino as ov

    with np.load(args.calibration, allow_pickle=False) as data:
        stacked = {name: data[name] for name in data.files}
    count = len(next(iter(stacked.values())))
    rows = [{name: rows[i] for name, rows in stacked.items()} for i in range(count)]
    model = ov.Core().read_model(args.model) if args.read_model else ov.convert_model(args.model)
    quantized = nncf.quantize(model, nncf.Dataset(rows), subset_size=count)
    ov.save_model(quantized, args.out, compress_to_fp16=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
