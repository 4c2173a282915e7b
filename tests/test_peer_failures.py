"""Each failure class of ../shared/reference/peer-failures.md names the tests that make it
impossible here. The classes are read from the file itself, so a new row fails until mapped."""

from __future__ import annotations

import ast
from pathlib import Path

from reference import REFERENCE

TESTS = Path(__file__).resolve().parent

PROVEN: dict[str, list[str]] = {
    "duplicates every sync": [
        "sync/test_engine_memory.py::test_duplicates_every_sync_cannot_happen",
        "sync/test_machine_sandbox.py::SandboxSyncMachine",
    ],
    "duplicates after an empty read": [
        "sync/test_engine_memory.py::test_empty_read_after_cursor_loss_deletes_nothing",
        "sync/test_engine_memory.py::test_lost_database_is_rebuilt_through_tags_without_duplicates",
    ],
    "duplicates at the window edge": [
        "sync/test_engine_memory.py::test_an_event_ending_exactly_at_the_window_edge_is_treated_alike_on_both_sides",
    ],
    '"this and following" split': [
        "sandbox/test_google_api.py::test_this_and_following_split",
        "sync/test_series_cases_sandbox.py::test_a_daily_series_split_this_and_following",
    ],
    "lost exceptions": [
        "sync/test_series_sandbox.py::test_weekly_standup_with_a_moved_and_a_cancelled_occurrence",
    ],
    "exception storms": [
        "sync/test_series_sandbox.py::test_a_series_with_a_hundred_moved_occurrences_costs_batches",
        "sync/test_series_cases_sandbox.py::test_a_series_with_500_moved_occurrences_syncs_in_batches",
    ],
    "DST / travel shifts": [
        "sync/test_engine_memory.py::test_the_laptops_time_zone_changing_moves_nothing",
        "core/test_model.py::test_same_instant_in_another_zone_is_the_same_single_event",
        "sync/test_series_sandbox.py::test_weekly_standup_with_a_moved_and_a_cancelled_occurrence",
        "sync/test_series_cases_sandbox.py::test_a_series_across_both_dst_changes_keeps_its_wall_time",
        "sync/test_series_cases_sandbox.py::test_changing_the_laptops_zone_between_syncs_moves_no_occurrence",
    ],
    "mass deletion": [
        "sync/test_engine_memory.py::test_mass_deletion_stops_the_pair_and_asks",
        "sync/test_engine_memory.py::test_deleting_a_series_counts_its_occurrences_for_the_mass_delete_guard",
        "sync/test_engine_memory.py::test_the_persons_answer_to_a_held_deletion_is_carried_out_once",
    ],
    "copy/paste deletes the original": [
        "sync/test_engine_memory.py::test_copy_paste_of_a_copy_never_deletes_the_original",
        "core/test_planner.py::test_pasted_duplicate_becomes_its_own_event_and_never_deletes",
    ],
    "nagging prompts": [
        "sync/test_engine_memory.py::test_mass_deletion_stops_the_pair_and_asks",
        "sync/test_engine_memory.py::test_the_persons_answer_to_a_held_deletion_is_carried_out_once",
    ],
    "ghost items": [
        "providers/contract.py::test_deleting_twice_is_fine_and_updating_a_gone_event_is_not",
        "sandbox/test_google_api.py::test_delete_then_get_and_delete_again",
    ],
    "attendees spammed": [
        "e2e/test_cli_sync.py::test_first_launch_to_a_quiet_two_way_pair",
        "providers/test_copynote.py::test_block_round_trips",
    ],
    "shared quota exhausted": [
        "sync/test_engine_memory.py::test_first_sync_copies_both_ways_and_then_stays_quiet",
        "e2e/test_cli_sync.py::test_first_launch_to_a_quiet_two_way_pair",
    ],
    "token revoked weekly": [
        "auth/test_accounts.py::test_revocation_marks_needs_sign_in_tells_once_and_one_click_resumes",
    ],
    "zero items from locale": [
        "sync/test_locale_sandbox.py::test_a_sync_under_thai_and_turkish_locales_finds_and_copies_everything",
    ],
}


def classes() -> list[str]:
    rows = (REFERENCE / "peer-failures.md").read_text(encoding="utf-8").splitlines()
    out = []
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if row.startswith("|") and len(cells) == 3 and cells[0] not in ("class", "---"):
            out.append(cells[0])
    return out


def test_every_failure_class_is_mapped() -> None:
    found = classes()
    assert len(found) >= 14
    assert [c for c in found if c not in PROVEN] == []


def test_every_named_test_exists() -> None:
    missing = []
    for refs in PROVEN.values():
        for ref in refs:
            if ref.startswith("GAP:"):
                continue  # an open gap, named here and in the issue note
            file, _, name = ref.partition("::")
            path = TESTS / file
            if not path.exists():
                missing.append(ref)
                continue
            if name:
                tree = ast.parse(path.read_text(encoding="utf-8"))
                names = {
                    n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)
                }
                if name not in names:
                    missing.append(ref)
    assert missing == []
