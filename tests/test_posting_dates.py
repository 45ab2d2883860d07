"""Posting dates worked out column-wise (transform.dates) are the days `astimezone` gives."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.transform.dates import local_date, local_dates

ZONES = sorted(available_timezones())
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000}


def expected(seconds: list[int | None], zone: ZoneInfo) -> list[date | None]:
    return [None if s is None else local_date(EPOCH + timedelta(seconds=s), zone)
            for s in seconds]


def column(seconds: list[int | None], unit: str) -> pa.Array:
    return pa.array([None if s is None else s * PER_SECOND[unit] for s in seconds],
                    pa.timestamp(unit, tz="UTC"))


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), unit=st.sampled_from(sorted(PER_SECOND)),
       base=st.integers(-2_208_988_800, 4_102_444_800),  # 1900 to 2100
       steps=st.lists(st.one_of(st.none(), st.integers(-3 * 3_600, 3 * 3_600)), max_size=40))
def test_any_instants_in_any_zone_fall_on_the_day_astimezone_gives(
        zone: str, unit: str, base: int, steps: list[int | None]) -> None:
    """Instants close together share their hours, so an hour's offset is reused as well as
    worked out; None stays None."""
    seconds = [None if s is None else base + s for s in steps]
    assert local_dates(column(seconds, unit), ZoneInfo(zone)).to_pylist() == \
        expected(seconds, ZoneInfo(zone))


def test_every_zone_agrees_at_the_turn_of_each_hour_of_a_year() -> None:
    """Each zone, at the first and last second of every 61st hour of 2024 and 1975."""
    for zone_name in ZONES:
        zone = ZoneInfo(zone_name)
        for year in (1975, 2024):
            start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
            seconds = [start + h * 3_600 + edge for h in range(0, 366 * 24, 61)
                       for edge in (0, 3_599)]
            assert local_dates(column(seconds, "s"), zone).to_pylist() == expected(seconds, zone), \
                zone_name


@pytest.mark.parametrize(("zone_name", "year"), [
    # clocks changed at 00:01 local time: inside an hour, a minute from midnight, so which
    # offset the minutes after the change take decides the day
    ("America/St_Johns", 2006),  # and -3:30
    ("America/Goose_Bay", 2006),
    ("Asia/Kathmandu", 1986),  # +5:30 to +5:45 at midnight
    ("Australia/Lord_Howe", 2011),  # a 30-minute summer time
    ("Pacific/Chatham", 2011),  # +12:45 / +13:45
    ("Pacific/Apia", 2011),  # skipped 30 December 2011
    ("America/Santiago", 2011),  # changes at midnight
    ("Europe/Dublin", 2011),  # a negative summer time in the tz database
])
def test_every_seven_minutes_through_a_years_clock_changes(zone_name: str, year: int) -> None:
    zone = ZoneInfo(zone_name)
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    seconds = list(range(start, start + 366 * 86_400, 7 * 60))
    assert local_dates(column(seconds, "s"), zone).to_pylist() == expected(seconds, zone)


def test_the_transform_dates_each_invoice_where_the_store_is(run_cli, demo_copy) -> None:  # type: ignore[no-untyped-def]
    """Through export-orders and transform on the sample store (Europe/London): each invoice's
    posting date is its created_at's day in London, whichever way it was posted; one without
    a created_at is held for that cause, and the rest go on."""
    pages = demo_copy.parent.parent / "samples" / "magento" / "invoices"
    first = pages / "page-0001.json"
    page = json.loads(first.read_text(encoding="utf-8"))
    created = {i["increment_id"]: i.pop("created_at") if i["increment_id"] == "000000002"
               else i["created_at"] for i in page["items"]}
    first.write_text(json.dumps(page), encoding="utf-8")
    for path in sorted(pages.glob("*.json"))[1:]:
        created.update((i["increment_id"], i["created_at"])
                       for i in json.loads(path.read_text(encoding="utf-8"))["items"])
    exported = run_cli("-r", str(demo_copy), "export-orders")
    assert exported.exit_code == 0, exported.output
    transformed = run_cli("transform", "--from", exported.stdout.strip().splitlines()[-1])
    assert transformed.exit_code in (0, 1), transformed.output
    manifest = Path(transformed.stdout.strip().splitlines()[-1])
    documents = pq.read_table(manifest.parent / "documents.parquet").to_pylist()
    london = ZoneInfo("Europe/London")
    invoices = {d["increment_id"]: d for d in documents if d["entity_type"] == "invoice"}
    assert invoices["000000001"]["posting_date"] == date(2026, 10, 25)  # 23:41 UTC, BST
    held = invoices.pop("000000002")
    assert held["posting_date"] is None and "no created_at date" in held["hold_reason"]
    assert len(invoices) > 3
    for number, document in invoices.items():
        at = datetime.strptime(created[number], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert document["posting_date"] == at.astimezone(london).date(), number
