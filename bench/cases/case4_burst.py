"""Case 4: a burst of edits on both sides at once, some of them on the same events.

Of E edits, half are made in Outlook (to originals) and half in Google (to their copies); a
fifth of them land on events edited on both sides: half of those change the same field (a
conflict, left for the person under the default "ask" policy), half different fields (merged
and written to both sides)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bench.bounds import SyncBound
from bench.cases.base import Config, Row, settle, timed_run
from bench.cases.case1_initial import phase_note
from bench.cases.case2_idle import linked_world
from bench.clients import GoogleClient, GraphClient
from bench.sandbox import SandboxInfo

TITLE = "Burst of edits on both sides, with conflicts"


def parts(cfg: Config, selected: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    return [{"events": cfg.case4_events, "edits": cfg.case4_edits}]


def run(info: SandboxInfo, cfg: Config, part: dict[str, Any]) -> dict[str, Any]:
    admin = info.admin()
    edits = int(part["edits"])
    m, _ = linked_world(info, cfg, 1, int(part["events"]))
    pair = m.service.pairs()[0]
    settle(m)
    links = [  # plain events only: no series, no moved occurrences
        lk
        for lk in m.repo.links(pair.id)
        if lk.a_event and not lk.a_event.recurrence and lk.a_event.series_id is None
    ]
    per_side = edits // 2
    both = edits // 10  # events edited on both sides
    same_field = both // 2
    outlook_idx = range(0, per_side)
    google_idx = range(per_side - both, 2 * per_side - both)
    overlap = range(per_side - both, per_side)
    conflict_idx = set(overlap[:same_field])

    graph, google = GraphClient(info, m.ms_user), GoogleClient(info, m.google_user)
    admin.set_latency(0)
    graph.batch(
        [
            ("PATCH", f"/me/events/{quote(links[i].a_id, safe='')}", {"subject": f"O-edit {i}"})
            for i in outlook_idx
        ]
    )
    google_edits = []
    for i in google_idx:
        if i in overlap and i not in conflict_idx:
            body = {"location": f"G-room {i}"}  # a different field: merged
        else:
            body = {"summary": f"G-edit {i}"}
        google_edits.append((links[i].b_id, body))
    google.patch_many(pair.config["b"]["calendar"], google_edits)
    admin.set_latency(info.latency_ms)

    burst = timed_run(m, pair.id)
    after = settle(m, pair.id)
    merged = both - same_field
    expect = {
        "to_google": per_side - both + merged,
        "to_outlook": per_side - both + merged,
        "conflicts": same_field,
    }
    bound = SyncBound(
        outlook_rows=per_side,
        google_rows=per_side,
        outlook_writes=expect["to_outlook"],
        google_writes=expect["to_google"],
    )
    graph.close()
    google.close()
    m.close()
    return {
        "events": int(part["events"]),
        "edits": {"outlook": per_side, "google": per_side, "both": both, "same_field": same_field},
        "expected": expect,
        "run": burst,
        "after": [
            {"requests": r["requests"]["total"], "counts": r["counts"], "wall_s": r["wall_s"]}
            for r in after
        ],
        "bound": bound.as_dict(info.latency_ms),
    }


def rows(
    cfg: Config, results: list[dict[str, Any]], everything: dict[str, list[dict[str, Any]]]
) -> list[Row]:
    out: list[Row] = []
    for r in results:
        run, b, e = r["run"], r["bound"], r["expected"]
        req, c = run["requests"], run["counts"]
        label = f"{r['edits']['outlook'] + r['edits']['google']} edits"
        out += [
            Row(
                "4",
                f"{label}: wall time",
                run["wall_s"],
                "s",
                b["wall_s"],
                note=phase_note(run),
            ),
            Row(
                "4",
                f"{label}: requests, Outlook",
                req["outlook"],
                "req",
                b["outlook_requests"],
                note=f"{e['to_outlook']} writes needed",
            ),
            Row(
                "4",
                f"{label}: requests, Google",
                req["google"],
                "req",
                b["google_requests"],
                note=f"{e['to_google']} writes needed",
            ),
            Row(
                "4",
                f"{label}: outcome",
                f"{c.get('updated', 0)} updated, {c.get('conflicts', 0)} conflicts",
                note=f"expected {e['to_outlook'] + e['to_google']} updates, "
                f"{e['conflicts']} conflicts; polls to quiet after: {len(r['after'])} "
                f"(requests: {', '.join(str(a['requests']) for a in r['after'])})",
            ),
        ]
    return out
