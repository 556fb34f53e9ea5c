"""Every registered pass has its own test module here, and it names the pass."""
from pathlib import Path

from pipeline.graph.passes import PASSES

HERE = Path(__file__).parent


def test_every_pass_has_a_test_module():
    missing = [name for name in PASSES.names()
               if not (HERE / f"test_pass_{name}.py").is_file()
               or f'"{name}"' not in (HERE / f"test_pass_{name}.py").read_text()]
    assert not missing, f"passes without tests: {missing}"


def test_registry_holds_the_documented_passes():
    assert {"strip_training", "eliminate", "fold_constants", "fold_batchnorm", "cse",
            "onednn_fuse"} <= set(PASSES.names())


def test_every_pass_leaves_its_arguments_untouched():
    """Passes return new objects: the guard compares against a graph nobody changed."""
    import numpy as np

    from pipeline.graph import graph_of, to_json
    from pipeline.model.zoo_bundle import zoo_bundle

    import mxnet as mx

    from pipeline.model.bundle import ModelBundle

    base = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    head = mx.sym.SoftmaxOutput(mx.sym.Dropout(base.symbol(), p=0.2, name="drop"), name="softmax")
    bundle = ModelBundle.from_symbol(head, base.arg_params, base.aux_params, base.inputs)
    for name in PASSES.names():
        graph, params = graph_of(bundle)
        before_json, before_arg = to_json(graph), {k: v.copy() for k, v in params.arg.items()}
        before_heads, before_aux = list(graph.graph["heads"]), {k: v.copy() for k, v in params.aux.items()}
        new_graph, new_params = PASSES.get(name)(graph, params, bundle.inputs)
        assert new_graph is not graph, name
        assert to_json(graph) == before_json and graph.graph["heads"] == before_heads, name
        for store, before in ((params.arg, before_arg), (params.aux, before_aux)):
            assert set(store) == set(before), name
            assert all(np.array_equal(store[k], before[k]) for k in store), name
