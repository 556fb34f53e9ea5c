"""EI8xx dtypes: inputs and params must be of a dtype the target computes in.

Accelerators compute in float32 and float16 only; an int8 (quantized) or float64 model does
not run there as it is.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from pipeline.core.diagnostics import Diagnostic
from pipeline.checks.subject import CheckSubject, name_list, rule


@rule("dtypes")
def check_dtypes(subject: CheckSubject) -> list[Diagnostic]:
    allowed = subject.target.dtypes
    target = subject.target.name
    found = []
    for spec in subject.bundle.inputs:
        if np.dtype(spec.dtype).name not in allowed:
            found.append(Diagnostic(
                "EI801", "error", f"input '{spec.name}' is {spec.dtype}; '{target}' computes in "
                                  f"{', '.join(sorted(allowed))}",
                node=spec.name, hint=f"declare the input as one of {', '.join(sorted(allowed))}"))
    by_dtype: dict[str, list[str]] = defaultdict(list)
    for name, array in {**subject.bundle.arg_params, **subject.bundle.aux_params}.items():
        if array.dtype.name not in allowed:
            by_dtype[array.dtype.name].append(name)
    for dtype, names in sorted(by_dtype.items()):
        found.append(Diagnostic(
            "EI802", "error", f"{len(names)} param(s) are {dtype} ({name_list(sorted(names))}); '{target}' "
                              f"computes in {', '.join(sorted(allowed))}",
            node=sorted(names)[0], hint="cast the params to float32 (or float16), or pick another target"))
    return found
