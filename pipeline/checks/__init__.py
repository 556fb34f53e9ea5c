"""Compatibility checks: each rule family is one module, registered in RULES on import.

The modules are listed here explicitly, in code order (EI1xx ... EI9xx).
"""
from pipeline.checks import version  # noqa: F401  EI1xx
from pipeline.checks import inference  # noqa: F401  EI2xx
from pipeline.checks import contexts  # noqa: F401  EI3xx
from pipeline.checks import hybridization  # noqa: F401  EI4xx
from pipeline.checks import operators  # noqa: F401  EI5xx
from pipeline.checks import memory_fit  # noqa: F401  EI6xx
from pipeline.checks import shapes  # noqa: F401  EI7xx
from pipeline.checks import dtypes  # noqa: F401  EI8xx
from pipeline.checks import value_ranges  # noqa: F401  EI9xx
from pipeline.checks import runtime  # noqa: F401  EI91x
from pipeline.checks.subject import RULES, CheckSubject, run_rules

__all__ = ["RULES", "CheckSubject", "run_rules"]
