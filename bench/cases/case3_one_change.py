"""Case 3: one edit on one side reaches the other with `sync now` (SyncService.run of the pair),
in both directions; then the next poll, which reads that write back (its echo)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bench.bounds import SyncBound
from bench.cases.base import Config, Row, settle, timed_run, within
from bench.cases.case1_initial import phase_note
from bench.cases.case2_idle import linked_world
from bench.clients import GoogleClient, GraphClient
from bench.sandbox import SandboxInfo

TITLE = "One change, sync now"


def parts(cfg: Config, selected: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    return [{"events": cfg.case3_events}]


def run(info: SandboxInfo, cfg: Config, part: dict[str, Any]) -> dict[str, Any]:
    admin = info.admin()
    m, _ = linked_world(info, cfg, 1, int(part["events"]))
    pair = m.service.pairs()[0]
    settled = settle(m)
    links = [  # plain events only: no series, no moved occurrences
        lk
        for lk in m.repo.links(pair.id)
        if lk.a_event and not lk.a_event.recurrence and lk.a_event.series_id is None
    ]
    graph, google = GraphClient(info, m.ms_user), GoogleClient(info, m.google_user)
    out: dict[str, Any] = {"events": int(part["events"]), "settle_polls": len(settled)}

    # Outlook -> Google: a person renames a meeting in Outlook.
    lk = links[len(links) // 2]
    admin.set_latency(0)
    graph.call("PATCH", f"/me/events/{quote(lk.a_id, safe='')}", {"subject": "Renamed in Outlook"})
    admin.set_latency(info.latency_ms)
    out["outlook_to_google"] = {
        "run": timed_run(m, pair.id),
        "echo": timed_run(m, pair.id),
        "bound": SyncBound(1, 0, 0, 1).as_dict(info.latency_ms),
    }

    # Google -> Outlook: the person renames the copy of another meeting in Google.
    lk = links[len(links) // 3]
    admin.set_latency(0)
    google.patch_many(pair.config["b"]["calendar"], [(lk.b_id, {"summary": "Renamed in Google"})])
    admin.set_latency(info.latency_ms)
    out["google_to_outlook"] = {
        "run": timed_run(m, pair.id),
        "echo": timed_run(m, pair.id),
        "bound": SyncBound(0, 1, 1, 0).as_dict(info.latency_ms),
    }
    graph.close()
    google.close()
    m.close()
    return out


def rows(
    cfg: Config, results: list[dict[str, Any]], everything: dict[str, list[dict[str, Any]]]
) -> list[Row]:
    out: list[Row] = []
    for r in results:
        for key, label in (
            ("outlook_to_google", "Outlook edit"),
            ("google_to_outlook", "Google edit"),
        ):
            d = r[key]
            run, echo, b = d["run"], d["echo"], d["bound"]
            req = run["requests"]
            updated = run["counts"].get("updated", 0)
            out += [
                Row(
                    "3",
                    f"{label}: requests",
                    req["total"],
                    "req",
                    b["requests"],
                    "<= 1.1x bound",
                    within(req["total"], b["requests"], 1.1),
                    f"Outlook {req['outlook']}, Google {req['google']}; updated {updated}; "
                    f"next poll: {echo['requests']['total']} req",
                ),
                Row(
                    "3",
                    f"{label}: wall time",
                    run["wall_s"],
                    "s",
                    b["wall_s"],
                    note=f"{r['events']:,} linked events; " + phase_note(run),
                ),
            ]
    return out
