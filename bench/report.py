"""The table (Markdown, also what the terminal shows), the JSON, and the machine description."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench.cases.base import Row

_UNIT_DIGITS = {"s": 2, "us": 1, "MB": 0, "x": 2, "req/s": 1, "%": 0}


def fmt(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or (
        isinstance(value, float) and value.is_integer() and unit in ("req", "items")
    ):
        text = f"{int(value):,}"
    else:
        text = f"{value:,.{_UNIT_DIGITS.get(unit, 2)}f}"
    return f"{text} {unit}".strip() if unit and unit != "x" else (f"{text}x" if unit else text)


def table(rows: list[Row], notes: bool = True) -> str:
    head = "| case | measure | figure | bound | vs bound | target | met |"
    out = [head + (" notes |" if notes else ""), "|---" * (8 if notes else 7) + "|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.met]
        vs = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        bound = fmt(r.bound, r.unit) if r.bound is not None else ""
        cells = [r.case, r.what, fmt(r.figure, r.unit), bound, vs, r.target, met]
        cells += [r.note] if notes else []
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(out)


def table_from_json(path: Path, notes: bool = False) -> str:
    """The table of a results file (the README shows the baseline's without notes)."""
    doc = json.loads(path.read_text())
    return table([Row(**r) for r in doc["rows"]], notes)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": mem_gb,
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "os": os_name,
        "kernel": platform.release(),
        "machine": platform.machine(),
    }


def code_files(root: Path) -> dict[str, str]:
    """sha256 of each app/**/*.py (there is no git in the loop: this names the code measured)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "app").rglob("*.py"))
    }


def code_fingerprint(files: dict[str, str], root: Path) -> dict[str, Any]:
    digest = hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in files.items()).encode())
    newest = max((root / k).stat().st_mtime for k in files) if files else 0.0
    return {
        "app_sha256": digest.hexdigest()[:16],
        "files": len(files),
        "newest_change": dt.datetime.fromtimestamp(newest, dt.UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        ),
    }


def machine_md(m: dict[str, Any], meta: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# The machine the baseline was measured on",
            "",
            "| | |",
            "|---|---|",
            f"| CPUs (nproc) | {m['nproc']} |",
            f"| CPU model (/proc/cpuinfo) | {m['cpu_model']} |",
            f"| memory | {m['memory_gb']} GB |",
            f"| Python | {m['python']} ({m['python_impl']}) |",
            f"| OS | {m['os']}, kernel {m['kernel']}, {m['machine']} |",
            f"| measured | {meta['date']} |",
            f"| command | `{meta['command']}` |",
            f"| sandbox latency | {meta['latency_ms']} ms per request |",
            f"| load average (1 min) | {meta['load_average']['start']} at the start, "
            f"{meta['load_average']['end']} at the end, at most "
            f"{meta['load_average']['max_between_parts']} between parts |",
            f"| total run time | {meta['total_wall_s']:.0f} s |",
            f"| code measured | app/ sha256 {meta['code']['app_sha256']} "
            f"({meta['code']['files']} files, newest change {meta['code']['newest_change']})"
            + (
                f" **changed during the run: {', '.join(meta['code_changed_during_run'])}**"
                if meta["code_changed_during_run"]
                else ""
            )
            + " |",
            "",
            "The sandbox runs as its own process on the same machine; its CPU is reported apart",
            "from Meridian's. Other work on the machine (a load average above the CPU count)",
            "inflates wall times; CPU times much less.",
            "",
        ]
    )


def markdown(rows: list[Row], meta: dict[str, Any], titles: dict[str, str]) -> str:
    lines = [
        f"# Benchmark results ({'quick' if meta['quick'] else 'full'} run)",
        "",
        f"`{meta['command']}` on {meta['date']}, sandbox latency {meta['latency_ms']} ms, "
        f"{meta['total_wall_s']:.0f} s in all. Machine: {meta['machine']['nproc']} x "
        f"{meta['machine']['cpu_model']}, {meta['machine']['memory_gb']} GB, Python "
        f"{meta['machine']['python']}, {meta['machine']['os']}; load average "
        f"{meta['load_average']['start']} -> {meta['load_average']['end']}. Code: app/ sha256 "
        f"{meta['code']['app_sha256']}"
        + (
            f" (**changed during the run: {', '.join(meta['code_changed_during_run'])}**)"
            if meta["code_changed_during_run"]
            else ""
        )
        + ".",
        "",
        "Cases: " + "; ".join(f"{k}. {v}" for k, v in titles.items()) + ".",
        "",
        table(rows),
        "",
    ]
    return "\n".join(lines)
