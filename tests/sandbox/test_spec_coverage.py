"""Every line of api-spec.md §4 (the emulator fidelity checklist) names the tests that prove it.

The checklist is read from the spec itself, so a line added there fails here until it is mapped.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from reference import REFERENCE

HERE = Path(__file__).resolve().parent

# A phrase of the checklist line -> "file::test" that prove it.
COVERAGE: dict[str, list[str]] = {
    "`nextPageToken` XOR `nextSyncToken`": [
        "test_google_api.py::test_paged_full_sync_with_concurrent_edits_loses_nothing",
        "test_google_api.py::test_sync_rounds_never_lose_a_change",
    ],
    "Allow empty pages": ["test_google_api.py::test_short_pages_switch_gives_an_empty_first_page"],
    "410 `fullSyncRequired`": [
        "test_google_api.py::test_sync_token_refuses_filters_and_bad_tokens_need_full_sync"
    ],
    "400 for forbidden parameters": [
        "test_google_api.py::test_sync_token_refuses_filters_and_bad_tokens_need_full_sync"
    ],
    "Minimal cancelled items": [
        "test_google_api.py::test_incremental_sync_reports_deletions_minimally",
        "test_google_api.py::test_deleting_a_series_reports_only_the_master",
    ],
    "A cancelled instance is listed": ["test_google_api.py::test_cancelling_instances"],
    "Accept client ids": [
        "test_google_api.py::test_client_ids_are_checked_and_stay_reserved_after_deletion"
    ],
    "409 `duplicate`": [
        "test_google_api.py::test_client_ids_are_checked_and_stay_reserved_after_deletion"
    ],
    "410 `deleted` on a second delete": [
        "test_google_api.py::test_delete_then_get_and_delete_again"
    ],
    "`If-Match` → 412": ["test_google_api.py::test_if_match_and_if_none_match"],
    "Batch at `/batch/calendar/v3`": [
        "test_google_batch.py::test_batch_through_the_client",
        "test_google_batch.py::test_part_headers_override_the_outer_ones",
    ],
    "403/429 `rateLimitExceeded`": [
        "test_google_api.py::test_rate_limit_errors_are_retried_by_the_client"
    ],
    "Missing `startDateTime`/`endDateTime`": [
        "test_graph_series.py::test_calendar_view_window",
        "test_graph_delta.py::test_initial_round_needs_a_window",
    ],
    "Times in UTC unless": ["test_graph_events.py::test_prefer_time_zone_and_body_type"],
    "`@odata.nextLink` / `@odata.deltaLink`": ["test_graph_delta.py::test_round_pages_and_links"],
    "`@removed": ["test_graph_delta.py::test_later_rounds_report_changes_and_removals"],
    "Occurrence stubs": ["test_graph_delta.py::test_series_come_as_stubs_plus_master"],
    "Expiry as 410": [
        "test_graph_delta.py::test_expired_tokens_answer_410_with_a_restart_location"
    ],
    "POST 201, PATCH 200, DELETE 204, cancel 202": [
        "test_graph_events.py::test_create_returns_the_full_event_like_the_recorded_response",
        "test_graph_events.py::test_patch_and_delete",
        "test_graph_events.py::test_cancel_is_for_organizers",
    ],
    "`transactionId` dedupe": ["test_graph_events.py::test_transaction_id_dedupes_retries"],
    "Normalized recurrence defaults": [
        "test_graph_series.py::test_series_master_echoes_the_normalized_recurrence"
    ],
    "`ErrorOccurrenceCrossingBoundary`": [
        "test_graph_series.py::test_occurrence_may_not_cross_a_neighbour"
    ],
    "Batching: `$batch` ≤ 20": [
        "test_graph_batch.py::test_batch_order_switch_and_failed_dependencies",
        "test_graph_batch.py::test_batch_runs_each_item_like_a_request",
    ],
    "Throttling: 429 + `Retry-After`": [
        "test_graph_batch.py::test_throttled_items_come_back_as_their_own_429",
        "test_graph_batch.py::test_four_concurrent_requests_per_mailbox",
        "test_pipeline.py::test_quota_answers_429_with_retry_after",
    ],
}


def checklist() -> list[str]:
    text = (REFERENCE / "api-spec.md").read_text(encoding="utf-8")
    section = text.split("# 4. Emulator fidelity checklist", 1)[1].split("\n# 5.", 1)[0]
    lines = [
        re.sub(r"^\s*- ", "", ln).strip()
        for ln in section.splitlines()
        if ln.strip().startswith("- ")
    ]
    # Lines that only head a group ("Cancelled items:", "Delta:") are covered by their items.
    return [ln for ln in lines if not ln.endswith(":")]


def test_every_checklist_line_names_its_tests() -> None:
    lines = checklist()
    assert len(lines) >= 20, "the §4 checklist was not found in api-spec.md"
    unmapped = [ln for ln in lines if not any(key in ln for key in COVERAGE)]
    assert unmapped == []


def test_every_named_test_exists() -> None:
    missing = []
    for tests in COVERAGE.values():
        for ref in tests:
            file, name = ref.split("::")
            tree = ast.parse((HERE / file).read_text(encoding="utf-8"))
            names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            if name not in names:
                missing.append(ref)
    assert missing == []
