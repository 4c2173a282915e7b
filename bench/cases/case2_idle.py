"""Case 2: an idle poll of 5 pairs holding 5,000 linked events (1,000 per pair): requests per
poll against one per calendar, and the CPU the poll costs."""

from __future__ import annotations

import statistics
from typing import Any

from bench.cases.base import Config, Row, settle, timed_run, within
from bench.clients import GoogleClient, GraphClient, Meridian, seed_outlook
from bench.sandbox import SandboxInfo

TITLE = "Idle poll of 5 pairs"
POLLS = 3


def parts(cfg: Config, selected: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    return [{"pairs": cfg.case2_pairs, "events_per_pair": cfg.case2_events_per_pair}]


def linked_world(
    info: SandboxInfo, cfg: Config, pairs: int, per_pair: int
) -> tuple[Meridian, dict[str, Any]]:
    """``pairs`` Outlook calendars of ``per_pair`` events each, paired with empty Google
    calendars and synced once (set up without latency; the latency is back on when it returns).
    Shared with cases 3 and 4."""
    admin = info.admin()
    m = Meridian.create(info)
    graph, google = GraphClient(info, m.ms_user), GoogleClient(info, m.google_user)
    admin.set_latency(0)
    for k in range(pairs):
        cal = graph.create_calendar(f"Bench {k + 1}")
        seed_outlook(graph, cal, per_pair, cfg.recurring_share, tag=f"p{k + 1}-")
        m.add_pair(f"pair-{k + 1}", cal, google.create_calendar(f"Bench {k + 1}"))
    initial = timed_run(m)
    admin.set_latency(info.latency_ms)
    graph.close()
    google.close()
    return m, initial


def run(info: SandboxInfo, cfg: Config, part: dict[str, Any]) -> dict[str, Any]:
    pairs, per_pair = int(part["pairs"]), int(part["events_per_pair"])
    m, initial = linked_world(info, cfg, pairs, per_pair)
    # The polls that settle it are measured too: the first poll after an initial sync reads
    # back the copies it wrote (their echo).
    echo = settle(m, runs=4)
    polls = [timed_run(m) for _ in range(POLLS)]
    links = sum(m.repo.link_count(p.id) for p in m.service.pairs())
    m.close()
    return {
        "pairs": pairs,
        "linked": links,
        "initial": {k: initial[k] for k in ("wall_s", "counts", "requests")},
        "settle": [
            {"requests": r["requests"]["total"], "counts": r["counts"], "wall_s": r["wall_s"]}
            for r in echo
        ],
        "polls": polls,
        "median": {
            k: statistics.median(p[k] for p in polls) for k in ("wall_s", "cpu_s", "sandbox_cpu_s")
        },
        "requests_per_poll": max(p["requests"]["total"] for p in polls),
    }


def rows(
    cfg: Config, results: list[dict[str, Any]], everything: dict[str, list[dict[str, Any]]]
) -> list[Row]:
    out: list[Row] = []
    for r in results:
        bound = 2 * r["pairs"]
        med = r["median"]
        echo = r["settle"]
        out += [
            Row(
                "2",
                f"{r['pairs']} pairs, {r['linked']:,} linked: requests per idle poll",
                r["requests_per_poll"],
                "req",
                bound,
                "<= 1.1x bound",
                within(r["requests_per_poll"], bound, 1.1),
                f"polls to go quiet after the initial sync: {len(echo)} "
                f"(requests: {', '.join(str(e['requests']) for e in echo)})",
            ),
            Row(
                "2",
                f"{r['pairs']} pairs: CPU time of an idle poll",
                round(med["cpu_s"], 3),
                "s",
                note=f"{med['cpu_s'] / max(r['linked'], 1) * 1e6:.0f} us per linked event; "
                f"wall {med['wall_s']:.2f} s (median of {POLLS})",
            ),
        ]
    return out
