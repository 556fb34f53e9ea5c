"""The Elastic Inference accelerator sizes: eia1.medium ... eia2.xlarge.

Each size is an accelerator with fixed memory (pipeline/targets/sizes.py), an MXNet 1.9.1
runtime, float32/float16 arithmetic and the op set below; ops outside it run on the host CPU
(the graph is partitioned). Deploying partitions the bundle for the size (unless the
partition stage already did), sends the accelerator subgraphs to an accelerator server
(`pipeline accelerator serve`, or the embedded one this process starts on loopback) and
binds the rest with MXNet's executor on the host, as Elastic Inference did.
"""
from __future__ import annotations

from typing import ClassVar

from pipeline.core.errors import TargetError
from pipeline.model.bundle import ModelBundle
from pipeline.targets.base import GiB, MXNET_1_9_1, register_target
from pipeline.targets.cpu import MXNetExecutorTarget
from pipeline.targets.sizes import ACCELERATOR_SIZES

# The inference ops an accelerator subgraph runs, by their MXNet registered names (aliases
# included, since a hand-written graph may use either). Chosen as the dense float compute of
# vision and NLP inference graphs: convolutions, dense layers, normalization, activations,
# pooling, elementwise/broadcast arithmetic and layout ops. Training heads are listed because
# their forward is an inference op (SoftmaxOutput = softmax, the regression heads = identity or
# sigmoid); Dropout because in inference it is the identity. Not listed, so they fall back to
# the CPU: custom Python ops (`Custom`), random sampling, control flow (`_foreach`,
# `_while_loop`, `_cond`), sparse storage ops, integer/index ops (argmax, topk, one_hot),
# detection post-processing (`_contrib_box_nms`, `_contrib_MultiBoxDetection`) and
# quantized (`_contrib_quantize*`) ops. docs/targets.md lists the same set.
EIA_OPS: frozenset[str] = frozenset({
    # convolution and dense layers
    "Convolution", "Deconvolution", "FullyConnected", "dot", "batch_dot", "Embedding",
    # normalization
    "BatchNorm", "InstanceNorm", "LayerNorm", "L2Normalization", "LRN",
    # activations
    "Activation", "LeakyReLU", "relu", "sigmoid", "tanh", "softsign", "hard_sigmoid", "erf",
    "clip", "exp", "log", "sqrt", "rsqrt", "square", "abs", "negative", "reciprocal",
    # softmax and inference forms of training heads
    "softmax", "log_softmax", "SoftmaxActivation", "SoftmaxOutput", "LinearRegressionOutput",
    "LogisticRegressionOutput", "MAERegressionOutput",
    # pooling and resizing
    "Pooling", "UpSampling", "_contrib_BilinearResize2D", "_contrib_AdaptiveAvgPooling2D",
    # elementwise and broadcast arithmetic
    "elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_plus", "_Plus", "_add",
    "_minus", "_sub", "_mul", "_div", "add_n", "ElementWiseSum",
    "broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div", "broadcast_plus",
    "broadcast_minus", "broadcast_maximum", "broadcast_minimum", "broadcast_power",
    "_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar",
    "_rdiv_scalar", "_power_scalar", "_maximum_scalar", "_minimum_scalar",
    # reductions
    "mean", "sum", "max", "min",
    # layout and shape
    "Concat", "concat", "stack", "Flatten", "flatten", "Reshape", "reshape", "reshape_like",
    "expand_dims", "squeeze", "transpose", "SwapAxis", "swapaxes", "tile", "repeat",
    "slice", "slice_axis", "slice_like", "crop", "SliceChannel", "split", "Pad", "pad",
    "Crop", "broadcast_to", "broadcast_like",
    # identity-at-inference
    "Dropout", "_copy", "identity", "BlockGrad", "stop_gradient", "Cast", "cast", "amp_cast",
})


class EiaTarget(MXNetExecutorTarget):
    """An Elastic Inference accelerator size: fixed memory, MXNet 1.9.1 runtime, float only."""

    is_accelerator = True
    # float32/float16 only: quantized ops are not in EIA_OPS, so no quantized format is served,
    # and tune leaves the accelerators out (their subgraphs run on an emulating server).
    precisions = frozenset({"fp32"})
    formats = frozenset({"symbol"})
    runtime_mxnet_version = MXNET_1_9_1
    dtypes: ClassVar[frozenset[str]] = frozenset({"float32", "float16"})
    subgraph_engine: ClassVar[str] = "accelerator"
    runtime_modules: ClassVar[tuple[str, ...]] = ("pipeline.accelerator.subgraph_engine",)

    @classmethod
    def supported_ops(cls) -> frozenset[str]:
        return EIA_OPS

    def _deploy_impl(self, bundle: ModelBundle) -> None:
        from pipeline.accelerator.subgraph_engine import accelerator_engine
        from pipeline.partition.apply import PartitionRequest, partition_bundle

        dynamic = [s.name for s in bundle.inputs if s.dynamic]
        if dynamic:  # the check stage says so first (EI704)
            raise TargetError(f"'{self.name}' cannot serve dynamic axes (input(s) {', '.join(dynamic)}): every new "
                              "input shape loads another copy of the model on the accelerator", code="TGT009",
                              where=dynamic[0], hint="drop `dynamic` from the inputs and serve one static shape "
                                                     "(pad or bucket inputs to it)")
        if bundle.metadata.get("partition", {}).get("target") != self.name:
            bundle = partition_bundle(bundle, PartitionRequest(self.name))[0]
        self._engine = accelerator_engine()
        self._engine.attach(self.name, {"accelerator": self.options.get("accelerator") or {}})
        super()._deploy_impl(bundle)

    def _close_impl(self) -> None:
        super()._close_impl()
        self._engine.detach()


def _size_target(size: str, memory: int) -> type[EiaTarget]:
    """The target class of one accelerator size; its class name is the size's (eia1.large -> Eia1Large)."""
    class_name = "".join(part.capitalize() for part in size.split("."))
    cls = type(class_name, (EiaTarget,), {
        "__module__": __name__, "__qualname__": class_name, "__doc__": f"The {size} accelerator.",
        "name": size, "memory_bytes": memory,
        "summary": f"Elastic Inference {size} accelerator ({memory // GiB} GiB)"})
    return register_target(cls)


# One registered target per size, in ACCELERATOR_SIZES' order (eia1.medium ... eia2.xlarge).
SIZE_TARGETS: dict[str, type[EiaTarget]] = {size: _size_target(size, memory)
                                           for size, memory in ACCELERATOR_SIZES.items()}
