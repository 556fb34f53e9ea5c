"""A client process for the reliability tests (not a test module).

usage: load_client.py HOST:PORT TOKEN_FILE MODEL_DIR FORWARDS SEED
Loads the tiny model, runs FORWARDS forwards with varying batch sizes, checks every output
against numpy and prints "ok N". FORWARDS=0 means "until an error". On an accelerator error
prints "error CODE seconds" and exits 3.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.accelerator.client import AcceleratorClient
from pipeline.accelerator.errors import AcceleratorError


def main(address, token_file, model_dir, forwards, seed):
    model = Path(model_dir)
    w, b = np.load(model / "w.npy"), np.load(model / "b.npy")
    client = AcceleratorClient(address, Path(token_file).read_text().strip(), connect_timeout=2, timeout=5)
    rng = np.random.RandomState(seed)
    done = 0
    started = time.monotonic()
    try:
        client.load("tiny", (model / "symbol.json").read_text(), {"arg:fc_weight": w, "arg:fc_bias": b},
                    {"data": (1, 8)})
        while forwards == 0 or done < forwards:
            x = rng.randn(1 + done % 3, 8).astype(np.float32)
            started = time.monotonic()
            got = client.forward("tiny", {"data": x})[0]
            if not np.allclose(got, np.maximum(x @ w.T + b, 0), rtol=1e-5, atol=1e-6):
                print(f"mismatch at {done}", flush=True)
                return 1
            done += 1
    except AcceleratorError as exc:
        print(f"error {exc.code} {time.monotonic() - started:.3f} after {done}", flush=True)
        return 3
    finally:
        client.close()
    print(f"ok {done}", flush=True)
    print(json.dumps({"forwards": done}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
