"""Case 7: case 1 with the sandbox throttling: Graph's 4 concurrent requests per mailbox, and a
per-user quota (Q requests per S seconds, sliding window; every batch item counts) small enough
to force 429s. Reported: wall time against the quota's own lower bound, how much of the quota
the run used, the 429s met, and that no item failed.

The default quota, 100 per 2 s (50/s), is 5x Google's real per-user limit (600 per minute) so
that the case fits the time budget; what is measured (waiting out Retry-After and re-sending
only the refused items) does not depend on the rate.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.bounds import GOOGLE_MAX_PAGE, GRAPH_MAX_PAGE, pages, quota_wall_s
from bench.cases.base import Config, Row, within
from bench.cases.case1_initial import initial_sync
from bench.sandbox import SandboxInfo

TITLE = "Initial sync under throttling"


def parts(cfg: Config, selected: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    return [{"n": cfg.case7_events}]


def _quota_use(entries: list[dict[str, Any]], q: int, s: float) -> dict[str, Any]:
    """Per user: units the quota accepted, 429s, the busiest window, and the mean rate."""
    by_user: dict[str, list[float]] = defaultdict(list)
    refused: dict[str, int] = defaultdict(int)
    service: dict[str, str] = {}
    for e in entries:
        if e["user"] is None:
            continue  # Google's batch envelope: only its parts count
        service[e["user"]] = "outlook" if e["service"] == "graph" else "google"
        if e["status"] == 429:
            refused[e["user"]] += 1
        else:
            by_user[e["user"]].append(e["time"])
    out: dict[str, Any] = {}
    for user, times in by_user.items():
        times.sort()
        busiest, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - s:
                j += 1
            busiest = max(busiest, i - j + 1)
        span = (times[-1] - times[0]) if len(times) > 1 else 0.0
        out[service[user]] = {
            "accepted": len(times),
            "refused_429": refused[user],
            "busiest_window": busiest,
            "span_s": round(span, 2),
            "rate_per_s": round(len(times) / span, 1) if span else None,
            # A sliding window lets through Q at once, then Q per S: the most it could have
            # accepted over this span. How much of it the run used:
            "share_of_allowed": round(len(times) / (q * (1 + span / s)), 3),
        }
    return out


def run(info: SandboxInfo, cfg: Config, part: dict[str, Any]) -> dict[str, Any]:
    r = initial_sync(info, cfg, int(part["n"]), quota=True)
    entries = r["run"]["requests"].pop("entries")
    q, s = cfg.case7_quota, cfg.case7_quota_s
    b = r["bound"]
    # The fewest quota units each user needs: every page, and every write item.
    need = {
        "outlook": pages(b["outlook_rows"], GRAPH_MAX_PAGE),
        "google": pages(b["google_rows"], GOOGLE_MAX_PAGE) + b["google_writes"],
    }
    quota_bound = max(quota_wall_s(n, q, s) for n in need.values())
    return {
        **r,
        "quota": {"requests": q, "seconds": s, "rate_per_s": q / s},
        "quota_units_needed": need,
        "quota_use": _quota_use(entries, q, s),
        "wall_bound_s": round(max(quota_bound, b["wall_s"]), 3),
    }


def rows(
    cfg: Config, results: list[dict[str, Any]], everything: dict[str, list[dict[str, Any]]]
) -> list[Row]:
    out: list[Row] = []
    for r in results:
        run, quota = r["run"], r["quota"]
        req = run["requests"]
        use = r["quota_use"]
        g = use.get("google", {})
        o = use.get("outlook", {})
        errors = run["counts"].get("errors", 0)
        label = f"N={r['n']:,}, quota {quota['requests']}/{quota['seconds']:g} s"
        out += [
            Row(
                "7",
                f"{label}: wall time",
                run["wall_s"],
                "s",
                r["wall_bound_s"],
                "<= 2x bound",
                within(run["wall_s"], r["wall_bound_s"], 2.0),
                f"bound = the quota's own floor for {r['quota_units_needed']['google']:,} "
                f"Google units; 429s met: Outlook {req['throttled']['outlook']}, "
                f"Google {req['throttled']['google']}",
            ),
            Row(
                "7",
                f"{label}: share of the quota used (Google user)",
                round(100 * g.get("share_of_allowed", 0), 1),
                "%",
                note=f"{g.get('accepted')} units accepted in {g.get('span_s')} s "
                f"({g.get('rate_per_s')}/s; the quota allows {quota['rate_per_s']:g}/s after a "
                f"first burst of {quota['requests']}); busiest {quota['seconds']:g} s window "
                f"{g.get('busiest_window')} of {quota['requests']}; {g.get('refused_429')} "
                f"refused. Outlook user: busiest window {o.get('busiest_window')}, "
                f"{o.get('refused_429', 0)} refused",
            ),
            Row(
                "7",
                f"{label}: failed items",
                errors,
                "items",
                target="0",
                met=errors == 0 and run["status"] == ["ok"],
                note=f"run status {', '.join(run['status'])}; copies on Google: "
                f"{r['google_after']['items'] - r['google_after']['exceptions']:,} of "
                f"{r['seeded']['events']:,}",
            ),
        ]
    return out
