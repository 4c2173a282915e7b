"""The sandbox as a separate process, so its CPU never counts as Meridian's (and never holds the
GIL while Meridian works): ``meridian sandbox serve --latency-ms L`` without ``--state``, so
nothing is written to disk while the benchmark runs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from app.sandbox.admin import SandboxAdmin
from app.sandbox.server import SandboxUrls
from bench.measure import proc_cpu_seconds


@dataclass(frozen=True)
class SandboxInfo:
    """What a worker needs to reach the sandbox (passed to it as JSON)."""

    root: str
    ca_cert: str
    pid: int
    latency_ms: int

    @property
    def urls(self) -> SandboxUrls:
        return SandboxUrls(self.root)  # the one place the sandbox's paths are spelled

    @property
    def graph(self) -> str:
        return self.urls.graph

    @property
    def google_api(self) -> str:
        return self.urls.google_api

    @property
    def google_batch(self) -> str:
        return self.urls.google_batch

    def admin(self) -> SandboxAdmin:
        return SandboxAdmin(self.root, self.ca_cert, timeout=120)

    def cpu_seconds(self) -> float:
        """CPU the sandbox process used so far (user + system)."""
        return proc_cpu_seconds(self.pid)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "ca_cert": self.ca_cert,
            "pid": self.pid,
            "latency_ms": self.latency_ms,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SandboxInfo:
        return cls(d["root"], d["ca_cert"], int(d["pid"]), int(d["latency_ms"]))


class SandboxProcess:
    def __init__(self, latency_ms: int) -> None:
        self.latency_ms = latency_ms
        self.proc: subprocess.Popen[str] | None = None
        self.info: SandboxInfo | None = None

    def start(self) -> SandboxInfo:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "sandbox",
                "serve",
                "--latency-ms",
                str(self.latency_ms),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox did not start (no ready line)")
        ready = json.loads(line)
        root = ready["admin"].removesuffix("/_sandbox/")
        self.info = SandboxInfo(root, ready["ca_cert"], self.proc.pid, self.latency_ms)
        return self.info

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> SandboxInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
