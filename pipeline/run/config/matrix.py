"""Matrix pipelines: one cell per combination of the variables, `${var}` substituted.

A string that is exactly `${var}` takes the variable's value with its type (so a number
stays a number); `${var}` inside a longer string is replaced by its text.

A few values in a variable's list stand for a whole family (`SPECIAL_VALUES`):
`gluon-vision-zoo` is every model of mxnet.gluon.model_zoo.vision, read from the zoo's own
name table so a new MXNet zoo model is swept without editing any file.
"""
from __future__ import annotations

import itertools
import re

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _gluon_vision_zoo() -> list[str]:
    from pipeline.model.resolve import vision_zoo_names

    return vision_zoo_names()


# value -> the values it stands for, in their own order
SPECIAL_VALUES = {"gluon-vision-zoo": _gluon_vision_zoo}


def expand_values(values: list) -> list:
    """`values` with each special value replaced by the values it stands for."""
    out = []
    for value in values:
        if isinstance(value, str) and value in SPECIAL_VALUES:
            out.extend(SPECIAL_VALUES[value]())
        else:
            out.append(value)
    return out


def cells(matrix: dict[str, list]) -> list[dict]:
    """Every combination, in the order the variables and values are written."""
    names = list(matrix)
    return [dict(zip(names, combo)) for combo in itertools.product(*(expand_values(matrix[n]) for n in names))]


def cell_name(pipeline: str, values: dict) -> str:
    return f"{pipeline}[{','.join(f'{k}={v}' for k, v in values.items())}]"


def substitute(value, variables: dict, unknown: set):
    """A deep copy of `value` with `${var}` replaced; names not in `variables` go to `unknown`."""
    if isinstance(value, dict):
        return {k: substitute(v, variables, unknown) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, unknown) for v in value]
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            name = whole.group(1)
            if name in variables:
                return variables[name]
            unknown.add(name)
            return value

        def repl(match):
            name = match.group(1)
            if name not in variables:
                unknown.add(name)
                return match.group(0)
            return str(variables[name])

        return _VAR.sub(repl, value)
    return value


def variables_used(value) -> set[str]:
    found: set[str] = set()
    substitute(value, {}, found)
    return found
