"""Generate the bad-input corpus into a folder: YAML, symbol JSON, params, ONNX and CLI cases.

Nothing is committed but this script: every case is built from a tiny valid model at test
time. Each case names the `pipeline` argv to run and what a user must see: the exit code,
the error code, the file and the place (line:col, node, array, byte or tensor), and the
files that must not exist afterwards (no artifact, nothing executed).

    python tests/bad_inputs/make_corpus.py OUT_DIR    # writes OUT_DIR/cases.json
"""
from __future__ import annotations

import json
import pickle
import struct
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

GOOD_YAML = """version: 1
pipelines:
  mlp:
    source:
      checkpoint: {prefix: mlp, epoch: 0}
    inputs:
      data: {shape: [1, 8]}
    stages:
      - check: {target: cpu}
"""


@dataclass
class Case:
    id: str
    kind: str  # yaml | symbol | params | onnx | cli
    argv: list
    exit: int
    code: str
    file: str  # a substring the message must contain (the file, or the flag)
    place: str  # a regex the message must match (line:col, node, array, byte, tensor)
    forbid: list = field(default_factory=list)  # paths that must not exist afterwards


# -- base models ---------------------------------------------------------------------------------------
def write_mlp(folder: Path, name: str = "mlp") -> Path:
    """A 2-layer MLP checkpoint (data 1x8 -> 16 -> 4, SoftmaxOutput) with random weights."""
    import mxnet as mx

    data = mx.sym.var("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=4, name="fc2")
    sym = mx.sym.SoftmaxOutput(fc2, name="softmax")
    rng = np.random.default_rng(0)
    args = {"fc1_weight": rng.normal(size=(16, 8)), "fc1_bias": rng.normal(size=16),
            "fc2_weight": rng.normal(size=(4, 16)), "fc2_bias": rng.normal(size=4)}
    args = {k: mx.nd.array(v.astype("float32")) for k, v in args.items()}
    mx.model.save_checkpoint(str(folder / name), 0, sym, args, {})
    return folder / name


def write_conv(folder: Path, name: str, dtype: str = "float32") -> Path:
    """data 1x2x5x5 -> Convolution conv0 (2 filters, 3x3) checkpoint, weights of `dtype`."""
    import mxnet as mx

    sym = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=2, name="conv0")
    rng = np.random.default_rng(2)
    args = {"conv0_weight": mx.nd.array(rng.normal(size=(2, 2, 3, 3)), dtype=dtype),
            "conv0_bias": mx.nd.array(np.zeros(2), dtype=dtype)}
    mx.model.save_checkpoint(str(folder / name), 0, sym, args, {})
    return folder / name


def write_anchors(folder: Path, name: str) -> Path:
    """SSD's anchor pattern (a grid cut to the feature map by slice_like, plus zeros_like): with a
    `dynamic` batch axis nothing is folded at export, and OpenVINO 2026.4's CPU plugin refuses to
    compile it ("Can not create StaticMemory object"), as it refused GluonCV's SSD; ONNX Runtime
    opens it."""
    import mxnet as mx

    feature = mx.sym.Convolution(mx.sym.var("data"), num_filter=2, kernel=(3, 3), pad=(1, 1), name="conv")
    grid = mx.sym.reshape(mx.sym.arange(0, 2 * 16 * 16, dtype="float32"), shape=(1, 2, 16, 16))
    out = feature + mx.sym.slice_like(grid, feature, axes=(2, 3), name="anchors") * 0.01 + mx.sym.zeros_like(feature)
    rng = np.random.default_rng(3)
    args = {"conv_weight": mx.nd.array(rng.normal(size=(2, 3, 3, 3))), "conv_bias": mx.nd.zeros(2)}
    mx.model.save_checkpoint(str(folder / name), 0, out, args, {})
    return folder / name


def write_onnx(path: Path, *, dynamic: bool = False, op: tuple = ("Relu", ""), opset: int = 13,
               external: dict | None = None, raw: bytes | None = None, typed: list | None = None) -> Path:
    """X[1,8] @ W[8,4] + B -> op -> Y, built with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(1).normal(size=(8, 4)).astype("float32"), "W")
    if raw is not None:
        w.raw_data = raw
    if typed is not None:
        w.ClearField("raw_data")
        w.float_data.extend(typed)
    if external is not None:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for key, value in external.items():
            entry = w.external_data.add()
            entry.key, entry.value = key, str(value)
    b = numpy_helper.from_array(np.zeros(4, "float32"), "B")
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N" if dynamic else 1, 8])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N" if dynamic else 1, 4])
    op_type, domain = op
    nodes = [helper.make_node("MatMul", ["X", "W"], ["XW"], name="matmul0"),
             helper.make_node("Add", ["XW", "B"], ["XWB"], name="add0"),
             helper.make_node(op_type, ["XWB"], ["Y"], name="act0", domain=domain)]
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w, b]), opset_imports=imports)
    path.write_bytes(model.SerializeToString())
    return path


# -- the corpus ----------------------------------------------------------------------------------------
def build(root: Path) -> list[Case]:
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    cases += _yaml_cases(root / "yaml")
    cases += _symbol_cases(root / "symbol")
    cases += _params_cases(root / "params")
    cases += _onnx_cases(root / "onnx")
    cases += _cli_cases(root / "cli")
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise SystemExit("duplicate case ids")
    return cases


def _yaml_cases(folder: Path) -> list[Case]:
    folder.mkdir(parents=True)
    write_mlp(folder)
    out: list[Case] = []

    def add(cid, text, code, place, *, raw: bytes | None = None, run=False, exit=2):
        path = folder / f"{cid}.yaml"
        path.write_bytes(raw if raw is not None else text.encode("utf-8"))
        if run:
            argv = ["run", str(path), "--out", str(folder / f"{cid}.out"), "--no-cache"]
            out.append(Case(cid, "yaml", argv, exit, code, path.name, place, forbid=[str(folder / f"{cid}.out")]))
        else:
            out.append(Case(cid, "yaml", ["validate", str(path)], exit, code, path.name, place))

    lc = r":\d+:\d+:"
    add("yaml-syntax", "version: 1\npipelines: [a, b\n", "CFG001", r":3:1:")
    add("yaml-tab-indent", "version: 1\npipelines:\n\tmlp: {}\n", "CFG001", r":3:1:")
    add("yaml-duplicate-key", GOOD_YAML.replace("    stages:", "    inputs: {}\n    stages:"), "CFG002", r":8:5:")
    add("yaml-python-tag", "version: 1\npipelines: !!python/object/apply:os.system ['touch PWNED']\n", "CFG003",
        r":2:12:")
    add("yaml-alias-bomb", "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\npipelines: {}\n", "CFG003", lc)
    add("yaml-merge-key", "version: 1\nbase: &b {x: 1}\npipelines:\n  mlp:\n    <<: *b\n", "CFG003", r":5:5:")
    add("yaml-top-list", "- version: 1\n- pipelines: {}\n", "CFG013", r":1:1:")
    add("yaml-top-scalar", "pipelines\n", "CFG013", r":1:1:")
    add("yaml-empty", "", "CFG013", r":1:1:")
    add("yaml-two-docs", GOOD_YAML + "---\n" + GOOD_YAML, "CFG013", r":1:1:")
    add("yaml-nul-byte", "", "CFG015", r":3:5:", raw=GOOD_YAML.replace("  mlp:", "  ml\0p:").encode())
    add("yaml-bell-byte", "", "CFG015", r":1:10:", raw=b"version: \x07\n")
    add("yaml-not-utf8", "", "CFG013", r":1:1:", raw=b"version: 1\npipelines: {\xff\xfe}\n")
    add("yaml-huge", "", "CFG015", r":1:1:", raw=b"# " + b"x" * (5 << 20) + b"\n")
    add("yaml-deep", "version: 1\npipelines: " + "[" * 3000 + "\n", "CFG003", r":1:1:")
    add("yaml-stage-typo", GOOD_YAML.replace("- check:", "- chek:"), "CFG009", r":9:9:")
    add("yaml-param-typo", GOOD_YAML.replace("{target: cpu}", "{targt: cpu}"), "CFG005", r":9:17:")
    add("yaml-wrong-type", GOOD_YAML.replace("epoch: 0", "epoch: zero"), "CFG004", r":5:\d+:")
    add("yaml-unknown-target", GOOD_YAML.replace("{target: cpu}", "{target: eia3.large}"), "CFG014", r":9:\d+:")
    add("yaml-version-2", GOOD_YAML.replace("version: 1", "version: 2"), "CFG012", r":1:10:")
    add("yaml-no-source", GOOD_YAML.replace("    source:\n      checkpoint: {prefix: mlp, epoch: 0}\n", ""),
        "CFG006", lc)
    add("yaml-two-sources", GOOD_YAML.replace("      checkpoint:", "      onnx: {path: x.onnx}\n      checkpoint:"),
        "CFG007", lc)
    add("yaml-bad-shape", GOOD_YAML.replace("[1, 8]", "[1, -8]"), "CFG008", lc)
    add("yaml-bad-name", GOOD_YAML.replace("  mlp:", "  MLP:"), "CFG010", r":3:3:")
    add("yaml-matrix-var", GOOD_YAML.replace("  mlp:\n", "  mlp:\n    matrix: {model: [mlp]}\n")
        .replace("prefix: mlp", 'prefix: "${modle}"'), "CFG011", lc)
    add("yaml-factory-path", GOOD_YAML.replace("checkpoint: {prefix: mlp, epoch: 0}",
                                               'gluon: {factory: "../evil:make"}'), "CFG004", lc)
    add("yaml-unknown-top-key", GOOD_YAML + "pipeline: {}\n", "CFG005", r":10:1:")
    # through `pipeline run`: a bad config leaves no run directory at all
    add("yaml-run-typo", GOOD_YAML.replace("- check:", "- chek:"), "CFG009", r":9:9:", run=True)
    add("yaml-run-tag", "version: 1\npipelines: !!python/object/apply:os.system ['touch PWNED']\n", "CFG003",
        r":2:12:", run=True)
    # a factory naming Python's stdlib: refused before it is called (nothing touches PWNED)
    stdlib = GOOD_YAML.replace("checkpoint: {prefix: mlp, epoch: 0}",
                               'gluon: {factory: "subprocess:getoutput", kwargs: {cmd: "touch PWNED"}}')
    path = folder / "yaml-factory-stdlib.yaml"
    path.write_text(stdlib)
    out.append(Case("yaml-factory-stdlib", "yaml", ["run", str(path), "--out", str(folder / "stdlib.out"),
                                                    "--no-cache"], 1, "SRC106", "subprocess:getoutput",
                    r"subprocess:getoutput:", forbid=[str(folder / "PWNED"), str(folder / "stdlib.out/mlp/00-gluon/bundle.json")]))
    # files the pipeline references that do not exist (CFG016), each at its own line:col
    add("yaml-missing-checkpoint", GOOD_YAML.replace("prefix: mlp", "prefix: gone"), "CFG016", r":5:28:")
    add("yaml-missing-epoch", GOOD_YAML.replace("epoch: 0", "epoch: 7"), "CFG016", r":5:28:")
    add("yaml-missing-onnx", GOOD_YAML.replace("checkpoint: {prefix: mlp, epoch: 0}", "onnx: {path: gone.onnx}"),
        "CFG016", r":5:20:")
    add("yaml-missing-factory", GOOD_YAML.replace("checkpoint: {prefix: mlp, epoch: 0}",
                                                  'gluon: {factory: "gone_module:make"}'), "CFG016", r":5:24:")
    add("yaml-missing-image", GOOD_YAML.replace("- check: {target: cpu}", "- verify: {input: image, image: gone.jpg}"),
        "CFG016", r":9:39:")
    missing = folder / "nope.yaml"
    out.append(Case("yaml-missing", "yaml", ["validate", str(missing)], 2, "CFG013", "nope.yaml", r":1:1:"))
    return out


def _symbol_cases(folder: Path) -> list[Case]:
    folder.mkdir(parents=True)
    base = write_mlp(folder, "base")
    good = json.loads(Path(f"{base}-symbol.json").read_text())
    params = Path(f"{base}-0000.params").read_bytes()
    out: list[Case] = []

    def add(cid, code, place, *, graph=None, raw: bytes | None = None, forbid=()):
        prefix = folder / cid
        Path(f"{prefix}-0000.params").write_bytes(params)
        data = raw if raw is not None else json.dumps(graph, indent=2).encode()
        Path(f"{prefix}-symbol.json").write_bytes(data)
        argv = ["check", str(prefix), "--target", "cpu", "--input", "data=1,8"]
        out.append(Case(cid, "symbol", argv, 2, code, f"{cid}-symbol.json", place, forbid=list(forbid)))

    def edit(fn):
        g = json.loads(json.dumps(good))
        fn(g)
        return g

    text = json.dumps(good, indent=2).encode()
    add("sym-truncated", "MDL002", r"-symbol\.json:\d+:\d+:", raw=text[:len(text) // 2])
    accented = json.dumps(edit(lambda g: g["nodes"][3].__setitem__("name", "fc1é")), indent=2,
                          ensure_ascii=False).encode()
    cut = accented.index("é".encode()) + 1
    add("sym-cut-in-utf8", "MDL002", r"-symbol\.json:\d+:\d+:", raw=accented[:cut])
    add("sym-not-utf8", "MDL002", r"-symbol\.json:1:3:", raw=b'{"\xff\xfe": 1}')
    add("sym-empty", "MDL002", r"-symbol\.json:1:1:", raw=b"")
    add("sym-list", "LDR101", r"-symbol\.json:", graph=[good])
    add("sym-no-heads", "LDR101", r"'heads'", graph=edit(lambda g: g.pop("heads")))
    add("sym-nodes-dict", "LDR101", r"'nodes'", graph=edit(lambda g: g.__setitem__("nodes", {})))
    add("sym-input-oob", "LDR104", r"node 3 'fc1'", graph=edit(lambda g: g["nodes"][3]["inputs"].__setitem__(1, [99, 0, 0])))
    add("sym-cycle", "LDR104", r"node \d+ '\w+'", graph=edit(lambda g: g["nodes"][3]["inputs"].__setitem__(0, [4, 0, 0])))
    add("sym-head-output-oob", "LDR104", r"node \d+ 'softmax'", graph=edit(lambda g: g["heads"].__setitem__(0, [g["heads"][0][0], 3, 0])))
    add("sym-unknown-op", "LDR105", r"node 3 'fc1'", graph=edit(lambda g: g["nodes"][3].__setitem__("op", "FullyConected")))
    add("sym-attr-not-string", "LDR106", r"node 3 'fc1'",
        graph=edit(lambda g: g["nodes"][3]["attrs"].__setitem__("num_hidden", 16)))
    add("sym-attr-unparsable", "MDL002", r"node 3 'fc1'",
        graph=edit(lambda g: g["nodes"][3]["attrs"].__setitem__("num_hidden", "sixteen")))
    add("sym-attr-python-code", "MDL002", r"node 4 'relu1'",
        graph=edit(lambda g: g["nodes"][4]["attrs"].__setitem__(
            "act_type", f"__import__('os').system('touch {folder / 'PWNED'}')")), forbid=[str(folder / "PWNED")])
    add("sym-arg-node-op", "LDR102", r"arg_nodes\[", graph=edit(lambda g: g["arg_nodes"].append(3)))
    add("sym-node-no-op", "LDR103", r"node 3 'fc1'", graph=edit(lambda g: g["nodes"][3].pop("op")))
    add("sym-bad-entry", "LDR103", r"node 3 'fc1'", graph=edit(lambda g: g["nodes"][3]["inputs"].__setitem__(0, [0])))
    add("sym-var-with-inputs", "LDR103", r"node 1 'fc1_weight'",
        graph=edit(lambda g: g["nodes"][1]["inputs"].append([0, 0, 0])))
    conv = write_conv(folder, "conv-base")
    conv_graph = json.loads(Path(f"{conv}-symbol.json").read_text())
    for node in conv_graph["nodes"]:
        if node["op"] == "Convolution":
            node["attrs"]["num_filter"] = "four"
    Path(f"{folder / 'sym-num-filter-four'}-symbol.json").write_text(json.dumps(conv_graph))
    Path(f"{folder / 'sym-num-filter-four'}-0000.params").write_bytes(Path(f"{conv}-0000.params").read_bytes())
    out.append(Case("sym-num-filter-four", "symbol", ["check", str(folder / "sym-num-filter-four"), "--target", "cpu",
                                                      "--input", "data=1,2,5,5"], 2, "MDL002",
                    "sym-num-filter-four-symbol.json", r"'conv0'.*num_filter.*four"))
    # float64 weights under a float32 input: the graph loads but never binds (check: EI911, node named)
    f64 = write_conv(folder, "sym-f64-weights", dtype="float64")
    out.append(Case("sym-f64-weights", "symbol", ["check", str(f64), "--target", "onnxruntime", "--input",
                                                  "data=1,2,5,5"], 1, "EI911", "conv0", r"\[conv0\].*MXNet 1\.9\.1"))
    prefix = folder / "sym-missing"
    Path(f"{prefix}-0000.params").write_bytes(params)
    out.append(Case("sym-missing", "symbol", ["check", str(prefix), "--target", "cpu", "--input", "data=1,8"], 2,
                    "CLI001", "sym-missing", r"sym-missing:"))
    return out


def _params_cases(folder: Path) -> list[Case]:
    import mxnet as mx

    folder.mkdir(parents=True)
    base = write_mlp(folder, "base")
    symbol = Path(f"{base}-symbol.json").read_text()
    good = Path(f"{base}-0000.params").read_bytes()
    arrays = mx.nd.load(f"{base}-0000.params")
    out: list[Case] = []

    def add(cid, code, place, *, raw: bytes | None = None, save=None, forbid=()):
        prefix = folder / cid
        Path(f"{prefix}-symbol.json").write_text(symbol)
        params = Path(f"{prefix}-0000.params")
        if save is not None:
            mx.nd.save(str(params), save)
        else:
            params.write_bytes(raw)
        argv = ["check", str(prefix), "--target", "cpu", "--input", "data=1,8"]
        out.append(Case(cid, "params", argv, 2, code, f"{cid}-0000.params", place, forbid=list(forbid)))

    def patch(offset, fmt, value, data=good):
        b = bytearray(data)
        struct.pack_into(fmt, b, offset, value)
        return bytes(b)

    half = len(good) // 2
    add("prm-truncated", "LDR201", r"byte \d+", raw=good[:half])
    add("prm-truncated-header", "LDR201", r"byte \d+", raw=good[:20])
    add("prm-zeroed-half", "LDR204", r"byte \d+", raw=good[:half] + b"\0" * (len(good) - half))
    add("prm-bad-magic", "MDL003", r"byte 0", raw=b"PK\x03\x04" + good[4:])
    add("prm-empty", "MDL003", r"byte 0", raw=b"")
    add("prm-huge-count", "LDR201", r"byte 16", raw=patch(16, "<Q", 1 << 40))
    add("prm-huge-ndim", "LDR202", r"byte \d+", raw=patch(32, "<i", 1000))
    add("prm-negative-dim", "LDR202", r"byte \d+", raw=patch(36, "<q", -5))
    add("prm-huge-dim", "LDR201", r"byte \d+", raw=patch(36, "<q", 1 << 40))
    add("prm-bad-dtype", "LDR202", r"byte \d+", raw=patch(32 + 4 + 16 + 8, "<i", 99))
    add("prm-bad-stype", "LDR202", r"byte \d+", raw=patch(28, "<i", 7))
    add("prm-trailing", "LDR203", r"byte \d+", raw=good + b"garbage")
    add("prm-v3-magic", "LDR202", r"byte 24", raw=patch(24, "<I", 0xF993FACA))
    add("prm-unprefixed", "LDR205", r"array #\d+ 'fc\w+'", save={k[4:]: v for k, v in arrays.items()})
    add("prm-unnamed-list", "MDL003", r"-0000\.params:", save=list(arrays.values()))
    add("prm-extra", "LDR206", r"'arg:fc3_weight'", save={**arrays, "arg:fc3_weight": mx.nd.ones((2, 2))})
    add("prm-missing", "MDL005", r"fc2_bias", save={k: v for k, v in arrays.items() if k != "arg:fc2_bias"})
    add("prm-wrong-shape", "LDR207", r"'arg:fc1_weight'", save={**arrays, "arg:fc1_weight": mx.nd.ones((16, 9))})
    add("prm-one-weight-zeroed", "LDR204", r"array #\d+ 'arg:fc1_weight'",
        save={**arrays, "arg:fc1_weight": mx.nd.zeros((16, 8))})
    names_dup = bytearray(good)
    at = names_dup.rindex(b"arg:fc2_bias")
    names_dup[at:at + 12] = b"arg:fc1_bias"
    add("prm-duplicate-name", "LDR203", r"byte \d+", raw=bytes(names_dup))

    class Evil:  # a pickle whose load would run a shell command
        def __reduce__(self):
            import os

            return (os.system, (f"touch {folder / 'PWNED'}",))

    add("prm-pickle", "MDL003", r"byte 0", raw=pickle.dumps({"arg:fc1_weight": Evil()}), forbid=[str(folder / "PWNED")])
    # a file that is a symbol JSON given as params (a common copy-paste slip)
    add("prm-is-json", "MDL003", r"byte 0", raw=symbol.encode())
    return out


def _onnx_cases(folder: Path) -> list[Case]:
    import onnx

    folder.mkdir(parents=True)
    good = write_onnx(folder / "good.onnx").read_bytes()
    out: list[Case] = []

    def case(cid, code, place, path, inputs=("X=1,8",), exit=2, forbid=()):
        argv = ["check", str(path), "--target", "cpu"] + [a for i in inputs for a in ("--input", i)]
        out.append(Case(cid, "onnx", argv, exit, code, path.name, place, forbid=list(forbid)))

    def raw(cid, data, code, place):
        path = folder / f"{cid}.onnx"
        path.write_bytes(data)
        case(cid, code, place, path)

    raw("onnx-truncated", good[:len(good) // 2], "ONNX102", r"\.onnx:")
    raw("onnx-random", bytes(np.random.default_rng(3).integers(0, 256, 512, dtype=np.uint8)), "ONNX102", r"\.onnx:")
    raw("onnx-empty", b"", "ONNX102", r"\.onnx:")
    raw("onnx-is-yaml", GOOD_YAML.encode(), "ONNX102", r"\.onnx:")
    case("onnx-custom-op", "ONNX101", r"MyOp", write_onnx(folder / "onnx-custom-op.onnx", op=("MyOp", "com.example")))
    case("onnx-unknown-op", "ONNX101", r"Relux", write_onnx(folder / "onnx-unknown-op.onnx", op=("Relux", "")))
    case("onnx-opset-99", "ONNX112", r"\.onnx:", write_onnx(folder / "onnx-opset-99.onnx", opset=99))
    case("onnx-ext-missing", "ONNX102", r"initializer 'W'",
         write_onnx(folder / "onnx-ext-missing.onnx", external={"location": "w.data"}))
    secret = folder.parent / "secret.bin"
    secret.write_bytes(b"\1" * 128)
    case("onnx-ext-dotdot", "ONNX113", r"initializer 'W'",
         write_onnx(folder / "onnx-ext-dotdot.onnx", external={"location": "../secret.bin"}))
    case("onnx-ext-absolute", "ONNX113", r"initializer 'W'",
         write_onnx(folder / "onnx-ext-absolute.onnx", external={"location": str(secret)}))
    link = folder / "link.data"
    link.symlink_to(secret)
    case("onnx-ext-symlink", "ONNX113", r"initializer 'W'",
         write_onnx(folder / "onnx-ext-symlink.onnx", external={"location": "link.data"}))
    (folder / "short.data").write_bytes(b"\0" * 64)
    case("onnx-ext-range", "ONNX113", r"initializer 'W'",
         write_onnx(folder / "onnx-ext-range.onnx", external={"location": "short.data", "offset": 32, "length": 128}))
    case("onnx-ext-short", "ONNX114", r"initializer 'W'",
         write_onnx(folder / "onnx-ext-short.onnx", external={"location": "short.data"}))
    case("onnx-raw-size", "ONNX114", r"initializer 'W'", write_onnx(folder / "onnx-raw-size.onnx", raw=b"\0" * 12))
    case("onnx-typed-count", "ONNX114", r"initializer 'W'",
         write_onnx(folder / "onnx-typed-count.onnx", typed=[1.0, 2.0, 3.0]))
    dyn = write_onnx(folder / "onnx-dynamic.onnx", dynamic=True)
    case("onnx-dynamic-no-input", "ONNX103", r"X", dyn, inputs=())
    case("onnx-unknown-input", "ONNX104", r"pixels", folder / "good.onnx", inputs=("pixels=1,8",))
    model = onnx.load_from_string(good)
    model.graph.node[1].output[0] = "XW"  # two nodes write XW: not SSA
    model.graph.node[2].input[0] = "XW"
    (folder / "onnx-not-ssa.onnx").write_bytes(model.SerializeToString())
    (folder / "onnx-bad-utf8-name.onnx").write_bytes(good.replace(b"matmul0", b"matmul\xff"))
    case("onnx-bad-utf8-name", "ONNX102", r"UTF-8", folder / "onnx-bad-utf8-name.onnx")
    typed = onnx.load_from_string(good)
    typed.graph.initializer[0].data_type = onnx.TensorProto.INT32  # float X @ int32 W: a type clash
    (folder / "onnx-type-clash.onnx").write_bytes(typed.SerializeToString())
    case("onnx-type-clash", "ONNX109", r"\.onnx:", folder / "onnx-type-clash.onnx")
    case("onnx-not-ssa", "ONNX111", r"node 'add0'", folder / "onnx-not-ssa.onnx")
    # a file our importer (and the onnx checker) accepts but ONNX Runtime refuses: no int64 Relu kernel
    from onnx import TensorProto, helper

    relu = helper.make_graph([helper.make_node("Relu", ["X"], ["Y"], name="relu_i64")], "g",
                             [helper.make_tensor_value_info("X", TensorProto.INT64, [1, 8])],
                             [helper.make_tensor_value_info("Y", TensorProto.INT64, [1, 8])])
    (folder / "onnx-ort-refuses.onnx").write_bytes(
        helper.make_model(relu, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString())
    case("onnx-ort-refuses", "EI915", r"\[relu_i64\].*ONNX Runtime \d", folder / "onnx-ort-refuses.onnx", exit=1)
    # a graph the onnx checker accepts but OpenVINO's reader refuses: an op of a domain it has no rule for
    mystery = helper.make_graph([helper.make_node("Mystery", ["X"], ["Y"], domain="org.example")], "g",
                                [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 8])],
                                [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 8])])
    ov_refused = folder / "onnx-openvino-refuses.onnx"
    ov_refused.write_bytes(helper.make_model(mystery, opset_imports=[
        helper.make_opsetid("", 13), helper.make_opsetid("org.example", 1)]).SerializeToString())
    out.append(Case("onnx-openvino-refuses", "onnx", ["compare", f"{ov_refused}@openvino", f"{ov_refused}@openvino"],
                    2, "LOC006", "openvino", r"OpenVINO \d.*Mystery"))
    return out


def _cli_cases(folder: Path) -> list[Case]:
    folder.mkdir(parents=True)
    prefix = write_mlp(folder)
    p = str(prefix)
    (folder / "empty-run").mkdir()
    (folder / "a-file").write_text("not a folder\n")
    (folder / "pipelines.yaml").write_text(GOOD_YAML)
    (folder / "model.onnx").mkdir()
    anchors = str(write_anchors(folder, "anchors"))
    trunc = write_mlp(folder, "trunc")
    data = Path(f"{trunc}-0000.params").read_bytes()
    Path(f"{trunc}-0000.params").write_bytes(data[:len(data) // 2])
    return [
        Case("cli-unknown-command", "cli", ["chek"], 2, "CLI001", "pipeline", r"pipeline:"),
        Case("cli-no-command", "cli", [], 2, "CLI001", "pipeline", r"pipeline:"),
        Case("cli-bad-input-dim", "cli", ["check", p, "--target", "cpu", "--input", "data=1,x"], 2, "CLI001",
             "--input", r"--input:"),
        Case("cli-zero-input-dim", "cli", ["check", p, "--target", "cpu", "--input", "data=0,8"], 2, "CLI001",
             "--input", r"--input:"),
        Case("cli-input-no-name", "cli", ["check", p, "--target", "cpu", "--input", "1,8"], 2, "CLI001", "--input",
             r"--input:"),
        Case("cli-missing-target", "cli", ["check", p], 2, "CLI001", "pipeline check", r"pipeline check:"),
        Case("cli-unknown-target", "cli", ["check", p, "--target", "eia3.large", "--input", "data=1,8"], 2, "REG001",
             "eia3.large", r"did you mean"),
        Case("cli-no-such-model", "cli", ["check", str(folder / "nothing"), "--target", "cpu"], 2, "CLI001",
             "nothing", r"nothing:"),
        Case("cli-checkpoint-no-input", "cli", ["check", p, "--target", "cpu"], 2, "CLI001", "mlp-symbol.json",
             r"mlp-symbol\.json:"),
        Case("cli-input-not-in-graph", "cli", ["check", p, "--target", "cpu", "--input", "pixels=1,8"], 2, "MDL004",
             "mlp-symbol.json", r"pixels"),
        Case("cli-input-wrong-shape", "cli", ["check", p, "--target", "cpu", "--input", "data=1,9"], 2, "LDR207",
             "mlp-0000.params", r"'arg:fc1_weight'"),
        Case("cli-jobs-not-int", "cli", ["run", "x.yaml", "--jobs", "many"], 2, "CLI001", "pipeline run",
             r"pipeline run:"),
        Case("cli-report-empty-dir", "cli", ["report", str(folder / "empty-run")], 2, "RPT001", "empty-run",
             r"report\.json:"),
        Case("cli-out-is-a-file", "cli", ["run", str(folder / "pipelines.yaml"), "--out", str(folder / "a-file" / "run")],
             2, "CLI001", "--out", r"a-file"),
        Case("cli-jobs-zero", "cli", ["run", str(folder / "pipelines.yaml"), "--jobs", "0", "--out",
                                      str(folder / "jobs0")], 2, "CLI001", "--jobs", r"--jobs:",
             forbid=[str(folder / "jobs0")]),
        Case("cli-report-on-a-file", "cli", ["report", str(folder / "a-file")], 2, "RPT001", "a-file", r"report\.json:"),
        Case("cli-yaml-is-a-folder", "cli", ["validate", str(folder / "empty-run")], 2, "CFG013", "empty-run", r":1:1:"),
        Case("cli-onnx-is-a-folder", "cli", ["check", str(folder / "model.onnx"), "--target", "cpu"], 2, "ONNX102",
             "model.onnx", r"model\.onnx:"),
        Case("cli-timeout-negative", "cli", ["run", str(folder / "pipelines.yaml"), "--timeout", "-1", "--out",
                                             str(folder / "neg")], 2, "CLI001", "--timeout", r"--timeout:",
             forbid=[str(folder / "neg")]),
        Case("cli-convert-truncated-src", "cli", ["convert", str(folder / "trunc"), str(folder / "out"), "--input",
                                                  "data=1,8"], 2, "LDR201", "trunc-0000.params", r"byte \d+",
             forbid=[str(folder / "out-symbol.json"), str(folder / "out-0000.params")]),
        Case("cli-convert-no-folder", "cli", ["convert", p, str(folder / "nope" / "out.onnx"), "--input", "data=1,8"],
             2, "CLI001", "out.onnx", r"nope"),
        Case("cli-convert-opset-checkpoint", "cli", ["convert", p, str(folder / "ck"), "--opset", "13", "--input",
                                                     "data=1,8"], 2, "CLI001", "--opset", r"--opset:"),
        Case("cli-tune-candidate-crashes", "cli", ["tune", p, "--input", "data=1,8", "--target", "t_crash",
                                                   "--holdout", "2", "--samples", "2", "--runs", "1"], 1, "TUN103",
             "t_crash", r"t_crash fp32 crashed: TUN103 .*SIGABRT"),
        # a graph ONNX Runtime opens and OpenVINO refuses to compile: check says so, one EI914 line
        Case("cli-openvino-refuses", "cli", ["check", anchors, "--target", "openvino", "--input",
                                             "data=1,3,8,8:dyn=0"], 1, "EI914", "model.onnx",
             r"OpenVINO \d[\d.]* refused to compile model\.onnx for the CPU: Can not create StaticMemory"),
        Case("cli-zoo-typo", "cli", ["check", "resnet18_v9", "--target", "cpu"], 2, "CLI001", "resnet18_v9",
             r"resnet18_v9:"),
    ]


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    cases = build(root)
    (root / "cases.json").write_text(json.dumps([asdict(c) for c in cases], indent=1))
    print(f"{len(cases)} cases in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
