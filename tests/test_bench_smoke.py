"""`python -m bench --quick` runs every case at small sizes and writes JSON of the agreed shape.

Figures are not checked (they depend on the machine); that every case ran, that each table row
carries a figure, a bound where it has one, and a verdict where there is a target, is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = {"case", "what", "figure", "unit", "bound", "ratio", "target", "met", "note"}


@pytest.mark.timeout(240)
def test_quick_bench_writes_the_table_and_json(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr[-4000:]}"
    assert "| case | measure | figure | bound |" in r.stdout

    doc = json.loads((tmp_path / "latest.json").read_text())
    assert set(doc) == {"meta", "rows", "cases"}
    meta = doc["meta"]
    assert meta["quick"] is True and meta["latency_ms"] == 30
    assert {"nproc", "cpu_model", "memory_gb", "python", "os"} <= set(meta["machine"])
    assert meta["total_wall_s"] < 120  # about 25 s on the baseline machine

    assert sorted(doc["cases"]) == ["1", "2", "3", "4", "5", "6", "7"]
    for case, body in doc["cases"].items():
        assert body["title"] and body["parts"], case
        assert not [p for p in body["parts"] if "error" in p], case

    rows = doc["rows"]
    assert {r["case"] for r in rows} == set(doc["cases"])
    for row in rows:
        assert set(row) == ROW_KEYS, row
        assert row["figure"] is not None or row["case"] == "6", row
        if row["target"] and row["case"] != "6":
            assert row["met"] in (True, False), row
        if row["bound"] is not None and isinstance(row["figure"], int | float):
            assert row["ratio"] is not None, row
    # The cases with request bounds compare against one.
    for case in ("1", "2", "3", "4"):
        assert any(r["bound"] for r in rows if r["case"] == case), case
    assert (tmp_path / "latest.md").read_text().startswith("# Benchmark results (quick run)")
