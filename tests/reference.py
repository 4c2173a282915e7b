"""The recorded payloads of ../shared/reference (beside the checkout, in CI as here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
PAYLOADS = REFERENCE / "payloads"


def load_payload(name: str) -> Any:
    """A recorded payload (api-spec.md §5). Missing reference files fail the test, never skip it."""
    path = PAYLOADS / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: tests need ../shared beside the checkout")
    return json.loads(path.read_text(encoding="utf-8"))
