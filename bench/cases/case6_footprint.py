"""Case 6: footprint. Resident memory of the tray app idle with 5 pairs, the time from launch to
the tray icon, and the peak memory of a sync of 5,000 events (from case 1).

The profile is made as a person makes it, with the `meridian` command against the benchmark's
sandbox: sign in to both accounts (headless, auto-approved), add 5 pairs, sync once. Then the
app is launched on that profile (``python -m app --profile-dir P --sandbox URL``) and watched:

* launch -> tray: from starting the process to the first output line matching ``MARKER``
  (the tray app should print ``tray-icon-shown`` once its QSystemTrayIcon is visible), or the
  timeout;
* memory: VmRSS sampled every 0.2 s over the idle period, and VmHWM, from /proc/<pid>/status.

Until the tray app exists, ``python -m app --sandbox URL`` exits at once ("not built yet"); the
case then measures what ``python3 dev.py run`` starts today, ``python -m app --sandbox``
(the in-process demo sandbox), with its ready line as the marker, and says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.cases.base import Config, Row
from bench.clients import GoogleClient, GraphClient, new_email, seed_outlook
from bench.measure import proc_cpu_seconds, proc_memory_mb
from bench.sandbox import SandboxInfo

TITLE = "Footprint: tray app memory and launch time"
# Asked of the tray app: print "tray-icon-shown" when its icon is visible (on a desktop without
# a tray, offscreen Qt included, it shows its main window instead: "main-window-shown"). Until
# it does, its "Meridian is running." line (printed right after the tray starts) serves.
MARKER = re.compile(
    r"(tray[-_ ]?(icon[-_ ]?)?|main[-_ ]?window[-_ ]?)(shown|visible|ready)|is running\.",
    re.IGNORECASE,
)
DEMO_READY = re.compile(r'"ready":\s*true')
TARGET_MB = 150.0


def parts(cfg: Config, selected: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"kind": "tray"}]
    if "1" not in selected:
        out.append({"kind": "peak", "n": max(cfg.case1_sizes)})
    return out


def _cli(info: SandboxInfo, profile: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "app", "--profile-dir", str(profile), "--sandbox", info.root]
    env = dict(os.environ, MERIDIAN_SANDBOX_CA=info.ca_cert)
    r = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    if r.returncode != 0:
        raise RuntimeError(f"meridian {' '.join(args)}: exit {r.returncode}: {r.stderr[-500:]}")
    return r.stdout


def make_profile(info: SandboxInfo, cfg: Config, profile: Path) -> dict[str, Any]:
    admin = info.admin()
    admin.set_latency(0)
    ms = admin.create_user("microsoft", new_email("tray-outlook"))
    google_user = admin.create_user("google", new_email("tray-gmail"))
    graph, google = GraphClient(info, ms), GoogleClient(info, google_user)
    for k in range(cfg.case6_pairs):
        cal = graph.create_calendar(f"Tray {k + 1}")
        seed_outlook(graph, cal, cfg.case6_events_per_pair, cfg.recurring_share, tag=f"t{k}-")
        google.create_calendar(f"Tray {k + 1}")
    graph.close()
    google.close()
    admin.auto_approve("microsoft", ms.id)
    admin.auto_approve("google", google_user.id)
    _cli(info, profile, "accounts", "add", "microsoft")
    _cli(info, profile, "accounts", "add", "google")
    admin.auto_approve("microsoft", None)
    admin.auto_approve("google", None)
    for k in range(cfg.case6_pairs):
        _cli(
            info,
            profile,
            "pairs",
            "add",
            f"tray-{k + 1}",
            "--outlook",
            ms.email,
            "--outlook-calendar",
            f"Tray {k + 1}",
            "--google",
            google_user.email,
            "--google-calendar",
            f"Tray {k + 1}",
        )
    _cli(info, profile, "sync", "--once", "--json")
    admin.set_latency(info.latency_ms)
    return {"pairs": cfg.case6_pairs, "events": cfg.case6_pairs * cfg.case6_events_per_pair}


def watch(
    cmd: list[str], env: dict[str, str], marker: re.Pattern[str], timeout: float, idle: float
) -> dict[str, Any]:
    """Launch ``cmd``; time to the marker; memory and CPU over ``idle`` seconds after it."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    seen = threading.Event()
    lines: list[str] = []
    marked: list[float] = []
    marker_line: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if not seen.is_set() and marker.search(line):
                marked.append(time.perf_counter() - start)
                marker_line.append(line.strip()[:200])
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    samples: list[float] = []
    while not seen.is_set() and proc.poll() is None and time.perf_counter() - start < timeout:
        rss = proc_memory_mb(proc.pid).get("VmRSS")
        if rss:
            samples.append(rss)
        seen.wait(0.05)
    out: dict[str, Any] = {
        "cmd": " ".join(cmd[1:]),
        "launch_to_marker_s": round(marked[0], 3) if marked else None,
        "marker_seen": bool(marked),
        "marker_line": marker_line[0] if marker_line else None,
    }
    if proc.poll() is not None:
        reader.join(2)
        out.update(exited=proc.returncode, output=lines[-5:])
        return out
    cpu0 = proc_cpu_seconds(proc.pid)
    idle_end = time.perf_counter() + idle
    while time.perf_counter() < idle_end and proc.poll() is None:
        rss = proc_memory_mb(proc.pid).get("VmRSS")
        if rss:
            samples.append(rss)
        time.sleep(0.2)
    mem = proc_memory_mb(proc.pid)
    out.update(
        idle_s=idle,
        rss_mb=mem.get("VmRSS"),
        hwm_mb=mem.get("VmHWM"),
        rss_max_sampled_mb=max(samples) if samples else None,
        idle_cpu_s=round(proc_cpu_seconds(proc.pid) - cpu0, 3),
        output=lines[-5:],
    )
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    reader.join(2)
    return out


def tray(info: SandboxInfo, cfg: Config) -> dict[str, Any]:
    profile = Path(tempfile.mkdtemp(prefix="meridian-bench-profile-"))
    try:
        made = make_profile(info, cfg, profile)
        # MERIDIAN_BENCH=1 tells the app it is being measured (it may print the marker only
        # then); offscreen Qt unless the caller chose a platform (a desktop session).
        env = dict(os.environ, MERIDIAN_SANDBOX_CA=info.ca_cert, MERIDIAN_BENCH="1")
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = [
            sys.executable,
            "-m",
            "app",
            "--profile-dir",
            str(profile),
            "--sandbox",
            info.root,
        ]
        measured = watch(app, env, MARKER, cfg.case6_launch_timeout_s, cfg.case6_idle_s)
        result: dict[str, Any] = {"profile": made, "tray": measured, "gui": True}
        if measured.get("exited") is not None:
            # No tray app yet: measure what `python3 dev.py run` launches today.
            demo = [sys.executable, "-m", "app", "--sandbox"]
            result["gui"] = False
            either = re.compile(f"{MARKER.pattern}|{DEMO_READY.pattern}", re.IGNORECASE)
            result["fallback"] = watch(
                demo, env, either, cfg.case6_launch_timeout_s, cfg.case6_idle_s
            )
        return result
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(profile)


def run(info: SandboxInfo, cfg: Config, part: dict[str, Any]) -> dict[str, Any]:
    if part["kind"] == "peak":
        from bench.cases.case1_initial import initial_sync

        return {"kind": "peak", **initial_sync(info, cfg, int(part["n"]))}
    return {"kind": "tray", **tray(info, cfg)}


def rows(
    cfg: Config, results: list[dict[str, Any]], everything: dict[str, list[dict[str, Any]]]
) -> list[Row]:
    out: list[Row] = []
    for r in results:
        if r.get("kind") != "tray":
            continue
        t = r["tray"]
        measured = t if r["gui"] else r["fallback"]
        if r["gui"]:
            what = f"tray app, {r['profile']['pairs']} pairs"
            why = ""
        else:
            gui_demo = not DEMO_READY.search(measured.get("marker_line") or "")
            what = "`python -m app --sandbox` (" + (
                "GUI demo, 1 pair, in-process sandbox)" if gui_demo else "demo sandbox, no GUI)"
            )
            said = (t.get("output") or [""])[-1][:80]
            why = (
                f"`python -m app --profile-dir P --sandbox URL` ({r['profile']['pairs']} pairs) "
                f"exited {t.get('exited')}: {said}; "
            )
        rss = measured.get("rss_mb")
        out += [
            Row(
                "6",
                f"{what}: resident memory idle",
                rss,
                "MB",
                target=f"< {TARGET_MB:.0f} MB",
                met=(rss < TARGET_MB) if rss is not None and r["gui"] else None,
                note=why + f"peak {measured.get('hwm_mb')} MB, CPU {measured.get('idle_cpu_s')} s "
                f"over {measured.get('idle_s')} s idle",
            ),
            Row(
                "6",
                f"{what}: launch to marker line",
                measured.get("launch_to_marker_s"),
                "s",
                note=f"marker: {(measured.get('marker_line') or '')[:60]}"
                if measured.get("marker_seen")
                else "no marker line before the timeout (the app should print tray-icon-shown)",
            ),
        ]
    peaks = [r for r in everything.get("1", []) if r.get("n") == max(cfg.case1_sizes)]
    peaks += [r for r in results if r.get("kind") == "peak"]
    for r in peaks[:1]:
        mem = r["memory_mb"]
        out.append(
            Row(
                "6",
                f"peak resident memory during case 1, N={r['n']:,} (engine + providers)",
                mem["after"].get("VmHWM"),
                "MB",
                note=f"{mem['before'].get('VmRSS')} MB before the sync; "
                f"{mem['after'].get('VmRSS')} MB after"
                + ("" if mem.get("peak_reset") else "; peak not reset: includes set-up"),
            )
        )
    return out
