"""Runs one part of one case in a fresh process (``python -m bench.worker`` with a JSON job on
stdin; the JSON result is the last line of stdout), so that each part's CPU time and peak memory
are its own."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from typing import Any

from bench.cases import CASES
from bench.cases.base import Config
from bench.sandbox import SandboxInfo


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    job: dict[str, Any] = json.loads(sys.stdin.read())
    case = CASES[str(job["case"])]
    cfg = Config.from_dict(job["cfg"])
    info = SandboxInfo.from_dict(job["sandbox"]) if job.get("sandbox") else None
    profile = os.environ.get("MERIDIAN_BENCH_PROFILE")  # a folder: one .prof file per part
    try:
        if profile:
            import cProfile

            with cProfile.Profile() as prof:
                result = case.run(info, cfg, job["part"])
            prof.dump_stats(f"{profile}/case{job['case']}-{job['part']}.prof")
        else:
            result = case.run(info, cfg, job["part"])
    except Exception:
        result = {"error": traceback.format_exc()}
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
