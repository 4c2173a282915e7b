"""``python -m bench``: start the sandbox at a set latency, run the cases, print the table, write
the JSON (and the Markdown table) to bench/results/. See bench/README.md."""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.cases import CASES
from bench.cases.base import Config, Row
from bench.report import code_files, code_fingerprint, machine, machine_md, markdown, table
from bench.sandbox import SandboxProcess

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
NEEDS_SANDBOX = {"1", "2", "3", "4", "6", "7"}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--latency-ms", type=int, default=30, help="round-trip latency (default 30)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test (CI)")
    p.add_argument("--cases", default=",".join(CASES), help="which cases, e.g. 1,2,5")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="write baseline.json, baseline.md and machine.md (else latest.json, latest.md)",
    )
    p.add_argument("--part-timeout", type=float, default=900, help="seconds per case part")
    args = p.parse_args(argv)
    args.selected = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.selected if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    return args


def run_part(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.worker"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"worker exit {proc.returncode}: {proc.stderr[-2000:]}"}
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    cfg = Config.make(args.latency_ms, args.quick)
    selected = frozenset(args.selected)
    started = time.perf_counter()
    code_before = code_files(ROOT)
    code = code_fingerprint(code_before, ROOT)
    load_start = os.getloadavg()[0]
    results: dict[str, list[dict[str, Any]]] = {}
    loads: list[float] = []
    # Modules changed since the last run would otherwise be compiled inside the first part.
    compileall.compile_dir(str(ROOT / "app"), quiet=1)
    sandbox = SandboxProcess(args.latency_ms)
    info = sandbox.start() if selected & NEEDS_SANDBOX else None
    try:
        for case in args.selected:
            mod = CASES[case]
            for part in mod.parts(cfg, selected):
                label = ", ".join(f"{k}={v}" for k, v in part.items())
                print(f"case {case} ({label}) ...", end=" ", file=sys.stderr, flush=True)
                if info is not None:  # whatever the last part left behind, start clean
                    admin = info.admin()
                    admin.set_latency(args.latency_ms)
                    admin.set_limits(graph_concurrency=4, quota_requests=None, quota_seconds=60)
                    admin.clear_faults()
                t = time.perf_counter()
                job = {
                    "case": case,
                    "part": part,
                    "cfg": cfg.as_dict(),
                    "sandbox": info.as_dict() if info else None,
                }
                loads.append(round(os.getloadavg()[0], 2))
                result = run_part(job, args.part_timeout)
                loads.append(round(os.getloadavg()[0], 2))
                took = time.perf_counter() - t
                result.setdefault("part", part)
                result["part_wall_s"] = round(took, 1)
                results.setdefault(case, []).append(result)
                status = "FAILED" if "error" in result else "done"
                print(f"{status} in {took:.1f} s", file=sys.stderr, flush=True)
                if "error" in result:
                    print(result["error"], file=sys.stderr)
    finally:
        sandbox.stop()

    rows: list[Row] = []
    for case in args.selected:
        ok = [r for r in results.get(case, []) if "error" not in r]
        failed = [r for r in results.get(case, []) if "error" in r]
        try:
            rows += CASES[case].rows(cfg, ok, results)
        except Exception as exc:  # a broken row must not lose the other cases' results
            rows.append(Row(case, "table rows failed", f"error: {exc!r}"))
        for r in failed:
            rows.append(Row(case, f"part {r['part']} failed", "error", note=r["error"][-200:]))

    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "latency_ms": args.latency_ms,
        "quick": args.quick,
        "cases": args.selected,
        "total_wall_s": round(time.perf_counter() - started, 1),
        "machine": machine(),
        # Other work on the machine inflates wall times (CPU times much less): the 1-minute
        # load average at the start and end of the run, and the highest seen between parts.
        "load_average": {
            "start": round(load_start, 2),
            "end": round(os.getloadavg()[0], 2),
            "max_between_parts": max(loads, default=0.0),
        },
        "code": code,
        "code_changed_during_run": sorted(
            k for k, v in code_files(ROOT).items() if code_before.get(k) != v
        ),
        "config": cfg.as_dict(),
    }
    titles = {c: CASES[c].TITLE for c in args.selected}
    doc = {
        "meta": meta,
        "rows": [r.as_dict() for r in rows],
        "cases": {c: {"title": titles[c], "parts": results.get(c, [])} for c in args.selected},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "baseline" if args.baseline else "latest"
    (args.out / f"{name}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (args.out / f"{name}.md").write_text(markdown(rows, meta, titles))
    if args.baseline:
        (args.out / "machine.md").write_text(machine_md(meta["machine"], meta))
    print(table(rows))
    if meta["code_changed_during_run"]:
        changed = ", ".join(meta["code_changed_during_run"])
        print(f"warning: changed while the benchmark ran: {changed}", file=sys.stderr)
    print(
        f"\n{meta['total_wall_s']:.0f} s in all; results in {args.out / (name + '.json')}",
        file=sys.stderr,
    )
    return 1 if any("error" in r for rs in results.values() for r in rs) else 0


if __name__ == "__main__":
    sys.exit(main())
