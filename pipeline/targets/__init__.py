"""Deployment targets. Each module below registers its targets on import; listed explicitly."""
from pipeline.targets import cpu  # noqa: F401  (registers cpu)
from pipeline.targets import elastic_inference as eia  # noqa: F401  (registers eia1.*, eia2.*)
from pipeline.targets import onednn  # noqa: F401  (registers onednn)
from pipeline.targets import onnxruntime  # noqa: F401  (registers onnxruntime)
from pipeline.targets import openvino  # noqa: F401  (registers openvino)
from pipeline.targets.base import PRECISIONS, TARGETS, Target, quantize_target_names, targets_serving

__all__ = ["TARGETS", "Target", "capabilities_markdown", "quantize_target_names", "target_names", "targets_serving"]


def target_names() -> list[str]:
    return TARGETS.names()


def capabilities_markdown() -> str:
    """The capability table of docs/targets.md, generated from the targets' declarations."""
    lines = ["| target | precisions | formats | tuned as |", "|---|---|---|---|"]
    order = {p: i for i, p in enumerate(PRECISIONS)}
    for name, cls in TARGETS.items():
        precisions = ", ".join(sorted(cls.precisions, key=order.__getitem__))
        tuned = ", ".join(p + (f" ({', '.join(f'{k}={v}' for k, v in opts.items())})" if opts else "")
                          for p, opts in sorted(cls.tune.items(), key=lambda kv: order[kv[0]])) or "–"
        lines.append(f"| `{name}` | {precisions} | {', '.join(f'`{f}`' for f in sorted(cls.formats))} | {tuned} |")
    return "\n".join(lines)
