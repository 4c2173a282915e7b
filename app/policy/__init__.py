"""Managed policy: what IT decides for every Meridian on a machine (read-only, never written).

* ``schema``: the keys, types, defaults and safest values (one versioned schema for all places).
* ``sources``: where policy lives per OS (registry, managed preferences, /etc), as checked entries.
* ``effective``: the merge by precedence, tightening-only user file, problems with file and key.
* ``clamp``: a pair's rules tightened to the policy (``clamp``), and what blocks a pair.
* ``templates``: ADMX/ADML, .mobileconfig and a Linux example generated from the schema.

Imports only core, errors and paths (tests/test_architecture.py).
"""

from app.policy.clamp import PairContext, blockers, clamp, new_pair_rules
from app.policy.effective import (
    AccountVerdict,
    EffectivePolicy,
    Setting,
    describe,
    load_policy,
    merge,
)
from app.policy.schema import BY_NAME, KEYS, SCHEMA_VERSION, Problem
from app.policy.sources import Locations, RegistryTree

__all__ = [
    "BY_NAME",
    "KEYS",
    "SCHEMA_VERSION",
    "AccountVerdict",
    "EffectivePolicy",
    "Locations",
    "PairContext",
    "Problem",
    "RegistryTree",
    "Setting",
    "blockers",
    "clamp",
    "describe",
    "load_policy",
    "merge",
    "new_pair_rules",
]
