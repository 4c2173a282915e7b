"""Bytes other devices and older databases depend on, pinned for fixed events: fingerprint
texts, tags and keys, content hashes, the stored JSON of links and the copies a plan makes.

If one of these changes, a second device (or an older database) no longer agrees with this
one: never update an expected value to make a test pass; make the code produce it again."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from app.core import fingerprint, identity
from app.core.fingerprint import view_hash
from app.core.model import (
    Attendee,
    DaySpan,
    Event,
    EventRef,
    Person,
    Privacy,
    Provider,
    Recurrence,
    Reminder,
    Response,
    ShowAs,
    TimeSpan,
    content_dict,
    content_hash,
)
from app.core.planner import Context, Link, Origin, SideRead, plan
from app.core.rules import PairRules, PrivacyMode
from app.core.serialize import event_from_json, event_to_json
from app.store.db import Database
from app.store.repo import Repo

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)


def rich() -> Event:
    """A series with everything a field can hold: zones, unsorted sets, Unicode, HTML."""
    start = dt.datetime(2026, 11, 24, 9, 30, tzinfo=BERLIN)
    return Event(
        ref=EventRef(Provider.MICROSOFT, "cal-a", "AAMkAD=="),
        when=TimeSpan(start, start + dt.timedelta(minutes=45), "Europe/Berlin", "Europe/Berlin"),
        title="Équipe \u2013 weekly «sync» 🗓",
        ical_uid="040000008200E00074C5B7101A82E008",
        etag='W/"DwAAABYAAAA"',
        updated=dt.datetime(2026, 11, 20, 8, 15, 3, tzinfo=dt.UTC),
        description="Line one\nLine two: ünïcode",
        description_html="<p>Line one<br>Line two: ünïcode</p>",
        location="Room 4 / Raum 4",
        show_as=ShowAs.TENTATIVE,
        privacy=Privacy.PERSONAL,
        reminders=(Reminder(30, "email"), Reminder(10)),
        reminders_default=False,
        categories=("Red", "blue"),
        color="5",
        organizer=Person("Boss@Example.com", "The Boss"),
        attendees=(
            Attendee("Zed@example.com", "Zed", Response.ACCEPTED),
            Attendee("amy@example.com", "Amy", Response.DECLINED, optional=True),
            Attendee("room1@example.com", "Room 1", resource=True),
        ),
        online_meeting_url="https://teams.example.com/l/meetup-join/1",
        recurrence=Recurrence(
            "FREQ=WEEKLY;BYDAY=TU;COUNT=10",
            exdates=(
                dt.datetime(2026, 12, 15, 8, 30, tzinfo=dt.UTC),
                dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
            ),
            rdates=(dt.datetime(2026, 12, 3, 8, 30, tzinfo=dt.UTC),),
        ),
        tag=None,
        web_link="https://outlook.example.com/owa/?itemid=AAMkAD",
        synced="3:title=0123456789",
    )


def all_day() -> Event:
    return Event(
        ref=EventRef(Provider.MICROSOFT, "cal-a", "AAMkAE=="),
        when=DaySpan(dt.date(2026, 12, 24), dt.date(2026, 12, 27)),
        title="Holidays",
        etag="e2",
        show_as=ShowAs.OUT_OF_OFFICE,
        original_start=dt.date(2026, 12, 24),
        series_id="AAMkAF==",
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_content_dict_and_hash_are_pinned() -> None:
    blob = json.dumps(content_dict(rich()), sort_keys=True, ensure_ascii=False)
    assert _sha(blob) == "66a53e7f9080bbf479933293fd67120db8f940841ede376ed9b40e7c1e404a45"
    assert (
        content_hash(rich()) == "2d240f0d7af9eea36724b72eea43337f1e79021021eea3fefac8534d8481e96d"
    )
    assert (
        content_hash(all_day())
        == "35e122e57a316553ab0f3f116eca9e6548d290cf5c2f14cd1b1073ecf7c251c2"
    )


def test_views_fingerprints_and_view_hashes_are_pinned() -> None:
    got = {}
    for name, rules in (
        ("full", PairRules()),
        ("title", PairRules(privacy=PrivacyMode.TITLE_ONLY)),
        ("busy", PairRules(privacy=PrivacyMode.BUSY)),
        ("some", PairRules(fields=frozenset({"time", "location", "attendees"}))),
    ):
        for which, event in (("rich", rich()), ("day", all_day())):
            view = rules.view(event)
            awaits = {"a": frozenset({"title", "when"}), "b": frozenset()}
            got[f"{name}/{which}"] = (
                fingerprint.of_view(view, 7).text(),
                fingerprint.of_view(view, 12, awaits).text(),
                view_hash(view),
            )
    assert got == EXPECTED_VIEWS


def test_tags_and_keys_are_pinned() -> None:
    tag = identity.tag_for("AQMkADAwATM0MDAAMS1h", "AAMkAD==", "someone@gmail.com")
    assert tag == "mrd12gibhdn27uip1c4t2vrcj11988"
    assert identity.key_for(tag, 0) == tag + "00" and identity.key_for(tag, 7) == tag + "07"
    assert identity.provenance(tag, "AAMkAD==") == tag + ".AAMkAD=="
    assert identity.tag_for("", "", "") == "mrd1n34u8g7aqfeqpjrsovk7jl8ik9"
    assert identity.tag_for("kalender-ä", "id\x1fwith-sep", "b") == "mrd1oleav5u070fa796j1p9iqcdsu5"


def test_stored_event_json_is_pinned() -> None:
    for event, expected in (
        (rich(), "91afb0a0f84c6bd849979f6185cf0b96735d4718c9bce7679c6248a3328c7fce"),
        (all_day(), "7dafc40d4b14b73f37f7c84013b4142a27313622efb7bad3bdde425820830f89"),
    ):
        text = json.dumps(event_to_json(event))
        assert _sha(text) == expected
        assert event_from_json(json.loads(text)) == event


def _initial_plan(rules: PairRules) -> list[tuple[object, ...]]:
    events = {e.ref.event_id: e for e in (rich(), all_day()) if e.ref}
    single = Event(
        ref=EventRef(Provider.MICROSOFT, "cal-a", "AAMkAG=="),
        when=TimeSpan(
            dt.datetime(2026, 11, 25, 14, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC),
            "UTC",
            "UTC",
        ),
        title="Single",
        etag="e3",
    )
    events["AAMkAG=="] = single
    ctx = Context(
        rules, SideRead("cal-a", events), SideRead("cal-b", {}), rules.window(NOW), frozenset()
    )
    out = []
    for a in plan(ctx, []).actions:
        assert a.event is not None and a.link is not None
        out.append(
            (
                a.kind.value,
                a.key,
                a.event.tag,
                a.event.synced,
                _sha(json.dumps(event_to_json(a.event))),
                view_hash(a.link.view),
            )
        )
    return out


def test_the_copies_of_an_initial_sync_are_pinned() -> None:
    assert _initial_plan(PairRules()) == EXPECTED_PLAN_FULL
    assert _initial_plan(PairRules(privacy=PrivacyMode.BUSY)) == EXPECTED_PLAN_BUSY


def test_a_stored_link_row_is_pinned(tmp_path: Path) -> None:
    repo = Repo(Database(tmp_path / "state.db"))
    repo.add_pair("p", "p", {})
    view = PairRules().view(rich())
    lk = Link(None, Origin.A, "AAMkAD==", "b1", rich().etag, "g1", view, rich(), None)
    with repo.held():
        first = repo.save_link("p", lk)
        again = Link(first, Origin.A, "AAMkAD==", "b1", "e9", "g2", view, rich(), all_day())
        repo.save_link("p", again)
    row = repo.db.conn.execute(
        "SELECT origin, a_id, b_id, a_etag, b_etag, view, view_hash, a_event, b_event, key_gen "
        "FROM links"
    ).fetchone()
    assert [_sha(str(v)) for v in row] == EXPECTED_ROW


EXPECTED_VIEWS = {
    "full/rich": (
        "7:attendees=e23440ee29,categories=2cda99331e,color=d10a4bc9e0,description=0443d32f8a,location=453a5a3a4d,online_meeting_url=d4f6e67925,organizer=f78add2055,privacy=72312d5874,recurrence=a9ee6767bb,reminders=bccec1a77a,reminders_default=fcbcf16590,show_as=d8dad58a95,title=65428b17a9,when=f1fbd15a9a",
        "12:attendees=e23440ee29,categories=2cda99331e,color=d10a4bc9e0,description=0443d32f8a,location=453a5a3a4d,online_meeting_url=d4f6e67925,organizer=f78add2055,privacy=72312d5874,recurrence=a9ee6767bb,reminders=bccec1a77a,reminders_default=fcbcf16590,show_as=d8dad58a95,title=65428b17a9,when=f1fbd15a9a|a=title+when",
        "7125b28c9080fd082fef3df0aff83a06864d7619cb2ff1ac0ebdb2a67d794551",
    ),
    "full/day": (
        "7:attendees=4f53cda18c,categories=4f53cda18c,color=74234e98af,description=12ae32cb1e,location=12ae32cb1e,online_meeting_url=74234e98af,organizer=74234e98af,privacy=82fbb169e7,recurrence=74234e98af,reminders=4f53cda18c,reminders_default=b5bea41b6c,show_as=8c8fe069ab,title=1d3435d04f,when=0428767b4b",
        "12:attendees=4f53cda18c,categories=4f53cda18c,color=74234e98af,description=12ae32cb1e,location=12ae32cb1e,online_meeting_url=74234e98af,organizer=74234e98af,privacy=82fbb169e7,recurrence=74234e98af,reminders=4f53cda18c,reminders_default=b5bea41b6c,show_as=8c8fe069ab,title=1d3435d04f,when=0428767b4b|a=title+when",
        "3fe761cd3163790d5a2140820d63088d9010339c05b5547972d57f052aa0825d",
    ),
    "title/rich": (
        "7:privacy=72312d5874,recurrence=a9ee6767bb,show_as=d8dad58a95,title=65428b17a9,when=f1fbd15a9a",
        "12:privacy=72312d5874,recurrence=a9ee6767bb,show_as=d8dad58a95,title=65428b17a9,when=f1fbd15a9a|a=title+when",
        "c80bc5b0338c8d14402aca74b6ebb76f3fcda726f060b4c26f7d69ee6b8ddbff",
    ),
    "title/day": (
        "7:privacy=82fbb169e7,recurrence=74234e98af,show_as=8c8fe069ab,title=1d3435d04f,when=0428767b4b",
        "12:privacy=82fbb169e7,recurrence=74234e98af,show_as=8c8fe069ab,title=1d3435d04f,when=0428767b4b|a=title+when",
        "5e85b2cbe1660837867077ba3ae33b2d791a8d04e3cb13ea7478ca3ebded7c2c",
    ),
    "busy/rich": (
        "7:recurrence=a9ee6767bb,show_as=d8dad58a95,when=f1fbd15a9a",
        "12:recurrence=a9ee6767bb,show_as=d8dad58a95,when=f1fbd15a9a|a=title+when",
        "6d54a7da204126c0530cf0b92914313269e6fbefc7796b2f873c6ad2fba04608",
    ),
    "busy/day": (
        "7:recurrence=74234e98af,show_as=8c8fe069ab,when=0428767b4b",
        "12:recurrence=74234e98af,show_as=8c8fe069ab,when=0428767b4b|a=title+when",
        "9f2d09517765256dc7fa47128d1a9a9855b20567ac4086e8f2cda82332327757",
    ),
    "some/rich": (
        "7:attendees=e23440ee29,location=453a5a3a4d,online_meeting_url=d4f6e67925,organizer=f78add2055,recurrence=a9ee6767bb,when=f1fbd15a9a",
        "12:attendees=e23440ee29,location=453a5a3a4d,online_meeting_url=d4f6e67925,organizer=f78add2055,recurrence=a9ee6767bb,when=f1fbd15a9a|a=title+when",
        "212f373dd2cee0d54706436c4d983b0b2d640e3d0305ab6a13ec7e4aad2e1878",
    ),
    "some/day": (
        "7:attendees=4f53cda18c,location=12ae32cb1e,online_meeting_url=74234e98af,organizer=74234e98af,recurrence=74234e98af,when=0428767b4b",
        "12:attendees=4f53cda18c,location=12ae32cb1e,online_meeting_url=74234e98af,organizer=74234e98af,recurrence=74234e98af,when=0428767b4b|a=title+when",
        "631b7ca8a36f57a4268a461fcbbdff99e817ff437cccf9e09fc464c32bf29472",
    ),
}
EXPECTED_PLAN_FULL = [
    (
        "create",
        "mrd15hca7f67u25aa7mfuna25ufune00",
        "mrd15hca7f67u25aa7mfuna25ufune.AAMkAD==",
        "4:attendees=e23440ee29,categories=2cda99331e,color=d10a4bc9e0,description=0443d32f8a,location=453a5a3a4d,online_meeting_url=d4f6e67925,organizer=f78add2055,privacy=72312d5874,recurrence=a9ee6767bb,reminders=bccec1a77a,reminders_default=fcbcf16590,show_as=d8dad58a95,title=65428b17a9,when=f1fbd15a9a",
        "7f5b34390652c294ba8295316b123945fb808b663c0e5c55b6bed089b776fdff",
        "7125b28c9080fd082fef3df0aff83a06864d7619cb2ff1ac0ebdb2a67d794551",
    ),
    (
        "create",
        "mrd10gk156t2euokfboq3ieptb32qu00",
        "mrd10gk156t2euokfboq3ieptb32qu.AAMkAG==",
        "1:attendees=4f53cda18c,categories=4f53cda18c,color=74234e98af,description=12ae32cb1e,location=12ae32cb1e,online_meeting_url=74234e98af,organizer=74234e98af,privacy=82fbb169e7,recurrence=74234e98af,reminders=4f53cda18c,reminders_default=b5bea41b6c,show_as=d0eba25140,title=62ab2eb3c7,when=db70e99974",
        "60e51432eb4b098d6d2fbe3f9b709e15aae61941106a00afb46541477d9974b1",
        "4ce3d0a003b9e39c4ba6bbd9b47f7321ced12faf16c62f04598e9724a4e9d88d",
    ),
]
EXPECTED_PLAN_BUSY = [
    (
        "create",
        "mrd15hca7f67u25aa7mfuna25ufune00",
        "mrd15hca7f67u25aa7mfuna25ufune.AAMkAD==",
        "4:recurrence=a9ee6767bb,show_as=d8dad58a95,when=f1fbd15a9a",
        "e904a0bba83db3eed05293dcb4978302b04fde783f221604d7267b0325a47d99",
        "6d54a7da204126c0530cf0b92914313269e6fbefc7796b2f873c6ad2fba04608",
    ),
    (
        "create",
        "mrd10gk156t2euokfboq3ieptb32qu00",
        "mrd10gk156t2euokfboq3ieptb32qu.AAMkAG==",
        "1:recurrence=74234e98af,show_as=d0eba25140,when=db70e99974",
        "3afc6c7b2d9d6f1511c74f4ebb69b00cbe9159ed08cf17c9816680b225d28d20",
        "c371fc42e48f3646f788e7c5be16b524a8fd55f670f102f2cc778a910a56368f",
    ),
]
EXPECTED_ROW = [
    "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
    "b2996565abb06e0b073ea3ac5d3f871604210bc84b31b87c5f37a1beb12d2e01",
    "7dc96f776c8423e57a2785489a3f9c43fb6e756876d6ad9a9cac4aa4e72ec193",
    "0b227dd238234a0b1a29605d2857ea067969f6bdae3c268720dc57f875a48e54",
    "4d2f4b668cfc48e6059d36e91326bf87de39ba819f35450477bc1ce614a63bbd",
    "6a3d4845c3d097d1f3f571d38d7a2efc53280c3be03e1fe88f0983ac095491ac",
    "f3e135d5f39383529db0916fe8a2b623e71043b8a5de4d3a88a9c526caf271cb",
    "91afb0a0f84c6bd849979f6185cf0b96735d4718c9bce7679c6248a3328c7fce",
    "7dafc40d4b14b73f37f7c84013b4142a27313622efb7bad3bdde425820830f89",
    "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9",
]
