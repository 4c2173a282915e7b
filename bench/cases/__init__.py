"""The cases of issue 10, one module each (see bench/README.md)."""

from __future__ import annotations

from types import ModuleType

from bench.cases import (
    case1_initial,
    case2_idle,
    case3_one_change,
    case4_burst,
    case5_engine,
    case6_footprint,
    case7_throttled,
)

CASES: dict[str, ModuleType] = {
    "1": case1_initial,
    "2": case2_idle,
    "3": case3_one_change,
    "4": case4_burst,
    "5": case5_engine,
    "6": case6_footprint,
    "7": case7_throttled,
}
