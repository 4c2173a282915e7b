"""Helpers for the policy tests (imported as ``policykit``): fake machines, never the real one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.policy import EffectivePolicy, Locations, load_policy
from app.policy.sources import DictRegistry, RegistryTree


def doc(locked: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None) -> dict:
    return {"schema_version": 1, "locked": locked or {}, "defaults": defaults or {}}


def write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    path.write_text(text, encoding="utf-8")
    return path


def linux(root: Path, user_file: Path | None = None) -> Locations:
    """A Linux machine whose / is ``root``."""
    return Locations("linux", root=root, user_file=user_file)


def windows(
    root: Path, registry: dict[str, Any] | None = None, user_file: Path | None = None
) -> Locations:
    """A Windows machine: HKLM\\SOFTWARE\\Policies\\Meridian from ``registry`` (nested dicts are
    subkeys), %ProgramData% under ``root``."""
    keys = {}
    if registry is not None:
        keys[r"SOFTWARE\Policies\Meridian"] = RegistryTree.from_dict(registry)
    return Locations(
        "windows",
        program_data=root / "ProgramData",
        registry=DictRegistry(keys),
        user_file=user_file,
    )


def policy_with(tmp_path: Path, locked=None, defaults=None, user=None) -> EffectivePolicy:  # type: ignore[no-untyped-def]
    """A Linux machine with /etc/meridian/policy.json (and a user file, if given)."""
    write(tmp_path / "etc" / "meridian" / "policy.json", doc(locked, defaults))
    user_file = None
    if user is not None:
        user_file = write(tmp_path / "profile" / "policy.json", user)
    return load_policy(linux(tmp_path, user_file))


def kinds(policy: EffectivePolicy) -> list[str]:
    return [p.kind for p in policy.errors]
