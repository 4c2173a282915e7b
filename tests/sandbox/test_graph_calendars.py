"""Graph emulator: /me, /users/{id|upn}, calendars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_graph_support import Graph, daily, error_code, event, new_graph, payload

from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox


@pytest.fixture
def graph(sandbox: Sandbox, ms_user: SandboxUser) -> Graph:
    return Graph(sandbox, ms_user)


def test_me_describes_the_signed_in_user(graph: Graph, ms_user: SandboxUser) -> None:
    r = graph.get("/me")
    assert r.status_code == 200
    me = r.json()
    assert me["id"] == ms_user.id
    assert me["mail"] == me["userPrincipalName"] == ms_user.email
    assert me["displayName"] == ms_user.name


@pytest.mark.parametrize("form", ["id", "upn", "UPN"])
def test_users_path_accepts_own_id_or_upn(graph: Graph, ms_user: SandboxUser, form: str) -> None:
    key = {"id": ms_user.id, "upn": ms_user.email, "UPN": ms_user.email.upper()}[form]
    assert graph.get(f"/users/{key}").json()["id"] == ms_user.id
    cal = graph.get(f"/users/{key}/calendar")
    assert cal.status_code == 200
    assert cal.json()["id"] == graph.calendar_id()


def test_other_users_mailbox_is_denied(graph: Graph, sandbox: Sandbox, admin: SandboxAdmin) -> None:
    other = new_graph(sandbox, admin, "other")
    for key in (other.user.id, other.user.email):
        r = graph.get(f"/users/{key}/calendars")
        assert r.status_code == 403
        assert error_code(r) == "ErrorAccessDenied"
        assert "request-id" in r.json()["error"]["innerError"]
    r = graph.get("/users/nobody@example.com/events")
    assert r.status_code == 404
    assert error_code(r) == "ErrorInvalidUser"


def test_default_calendar_shape(graph: Graph, ms_user: SandboxUser) -> None:
    recorded = payload("graph_calendars_list__docs_user-list-calendars.json")["value"][0]
    r = graph.get("/me/calendars")
    assert r.status_code == 200
    cals = r.json()["value"]
    assert len(cals) == 1
    cal = cals[0]
    assert set(recorded) - {"@odata.id"} <= set(cal)
    assert cal["name"] == "Calendar"
    assert cal["isDefaultCalendar"] is True
    assert cal["canEdit"] is True
    assert cal["isRemovable"] is False
    assert cal["owner"] == {"name": ms_user.name, "address": ms_user.email}
    assert cal["id"].startswith("AAMk")
    assert graph.get("/me/calendar").json()["id"] == cal["id"]
    assert graph.get(f"/me/calendars/{cal['id']}").json()["name"] == "Calendar"


def test_create_page_and_delete_secondary_calendars(graph: Graph) -> None:
    r = graph.post("/me/calendars", json={"name": "Team", "color": "LightBlue"})
    assert r.status_code == 201
    team = r.json()
    assert team["isDefaultCalendar"] is False
    assert team["color"] == "lightBlue"
    graph.new_calendar("Travel")
    dup = graph.post("/me/calendars", json={"name": "team"})
    assert dup.status_code == 409
    assert error_code(dup) == "ErrorFolderExists"

    first = graph.get("/me/calendars", params={"$top": 2}).json()
    assert [c["name"] for c in first["value"]] == ["Calendar", "Team"]
    rest = graph.get(first["@odata.nextLink"]).json()
    assert [c["name"] for c in rest["value"]] == ["Travel"]
    assert "@odata.nextLink" not in rest
    assert first["@odata.nextLink"].startswith(graph.sandbox.urls.root + "/v1.0/me/calendars?")

    assert graph.delete(f"/me/calendars/{team['id']}").status_code == 204
    gone = graph.get(f"/me/calendars/{team['id']}")
    assert gone.status_code == 404
    assert error_code(gone) == "ErrorItemNotFound"
    default = graph.delete(f"/me/calendars/{graph.calendar_id()}")
    assert default.status_code == 400
    assert len(graph.get("/me/calendars").json()["value"]) == 2


def test_calendar_ids_are_checked(graph: Graph, sandbox: Sandbox, admin: SandboxAdmin) -> None:
    other = new_graph(sandbox, admin, "other")
    r = graph.get(f"/me/calendars/{other.calendar_id()}")
    assert r.status_code == 404
    assert error_code(r) == "ErrorItemNotFound"
    r = graph.get("/me/calendars/not-an-id")
    assert r.status_code == 400
    assert error_code(r) == "ErrorInvalidIdMalformed"


def test_calendar_body_is_validated(graph: Graph) -> None:
    r = graph.post("/me/calendars", json={"name": "X", "colour": "red"})
    assert r.status_code == 400
    assert error_code(r) == "RequestBodyRead"
    assert "'colour' does not exist" in r.json()["error"]["message"]
    assert len(graph.get("/me/calendars").json()["value"]) == 1


def test_mailbox_and_sync_state_survive_a_restart(tmp_path: Path) -> None:
    """data["graph"] is plain JSON: the snapshot restores ids, series and delta tokens."""
    window = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
    with Sandbox(tmp_path) as first:
        user = SandboxAdmin(first.urls.root, first.ca_cert).create_user(
            "microsoft", "r@example.com"
        )
        graph = Graph(first, user)
        master = graph.create(
            event(
                "Daily",
                "2030-01-06T09:00:00",
                "2030-01-06T09:30:00",
                recurrence=daily("2030-01-06", 3),
            )
        )
        occs = graph.get(f"/me/events/{master['id']}/instances", params=window).json()["value"]
        graph.delete(f"/me/events/{occs[1]['id']}")
        _, link, _ = graph.delta_round(None)
        master = graph.get(
            f"/me/events/{master['id']}", params={"$select": "cancelledOccurrences"}
        ).json()
        json.dumps(first.state.data["graph"])  # nothing but JSON in there
        old_root = first.urls.root
    with Sandbox(tmp_path) as second:
        graph = Graph(second, user)
        again = graph.get(f"/me/events/{master['id']}", params={"$select": "cancelledOccurrences"})
        assert again.status_code == 200
        assert again.json()["cancelledOccurrences"] == master["cancelledOccurrences"]
        assert again.json()["@odata.etag"] == master["@odata.etag"]
        assert graph.get(f"/me/events/{occs[0]['id']}").status_code == 200
        items, _, _ = graph.delta_round(link.replace(old_root, second.urls.root))
        assert items == []
