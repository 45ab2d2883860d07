"""Sage's blackout windows and the period lock, with a fixed clock (nothing sleeps).

Windows are read in the recipe's zone: daily, by weekday, by day of month, month-end; crossing
midnight and across Europe/London's daylight-saving changes. Inside one, a run exports and
transforms, delivers nothing, says when delivery resumes and exits 75; the next run after the
window delivers everything once. Documents dated in a locked period are held or re-dated.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from sagesync.cli.main import cli
from sagesync.ledger import Ledger
from sagesync.model.blackout import WindowSyntaxError, closed_at, parse_window
from sagesync.pipeline import import_step

LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def closed(windows: list[str], now: str, zone: ZoneInfo = LONDON) -> str | None:
    """The UTC time delivery resumes, or None when Sage is open at `now` (UTC)."""
    found = closed_at(tuple(parse_window(w) for w in windows), utc(now), zone)
    return None if found is None else found.resumes.strftime("%Y-%m-%d %H:%M")


# -- the windows -------------------------------------------------------------------------------

def test_a_daily_window_in_winter_and_in_summer() -> None:
    nightly = ["01:30-03:00"]
    assert closed(nightly, "2026-12-01 01:29") is None
    assert closed(nightly, "2026-12-01 01:30") == "2026-12-01 03:00"  # GMT = UTC
    assert closed(nightly, "2026-12-01 02:59") == "2026-12-01 03:00"
    assert closed(nightly, "2026-12-01 03:00") is None  # the end is open
    assert closed(nightly, "2026-07-01 00:30") == "2026-07-01 02:00"  # 01:30 BST
    assert closed(nightly, "2026-07-01 02:00") is None  # 03:00 BST


def test_a_window_crossing_midnight_starts_on_its_day() -> None:
    late = ["Fri 22:00-02:00"]  # 2026-12-04 is a Friday
    assert closed(late, "2026-12-04 21:59") is None
    assert closed(late, "2026-12-04 23:00") == "2026-12-05 02:00"
    assert closed(late, "2026-12-05 01:59") == "2026-12-05 02:00"  # Saturday morning
    assert closed(late, "2026-12-05 22:30") is None  # not Saturday night
    assert closed(late, "2026-12-03 23:00") is None  # nor Thursday's
    assert closed(["23:00-01:00"], "2026-12-31 23:30") == "2027-01-01 01:00"


def test_weekdays_ranges_and_whole_days() -> None:
    weekend = ["Sat,Sun"]
    assert closed(weekend, "2026-12-05 12:00") == "2026-12-07 00:00"  # Sat -> Monday
    assert closed(weekend, "2026-12-07 00:00") is None
    assert closed(["Mon-Fri 12:00-13:00"], "2026-12-04 12:30") == "2026-12-04 13:00"
    assert closed(["Mon-Fri 12:00-13:00"], "2026-12-05 12:30") is None
    assert closed(["Fri-Mon 12:00-13:00"], "2026-12-06 12:30") == "2026-12-06 13:00"
    assert closed(["Sat 00:00-24:00"], "2026-12-05 23:59") == "2026-12-06 00:00"


def test_month_end_close_and_days_of_the_month() -> None:
    close = ["last 3 days"]
    assert closed(close, "2026-11-27 23:59") is None
    assert closed(close, "2026-11-28 00:00") == "2026-12-01 00:00"
    assert closed(close, "2026-02-26 10:00") == "2026-03-01 00:00"  # February has 28
    assert closed(close, "2028-02-26 10:00") is None  # a leap year's has 29
    assert closed(close, "2028-02-27 10:00") == "2028-03-01 00:00"
    assert closed(["day 1,15 00:00-06:00"], "2026-12-15 05:00") == "2026-12-15 06:00"
    assert closed(["day 1,15 00:00-06:00"], "2026-12-16 05:00") is None


def test_back_to_back_windows_resume_when_none_covers_the_moment() -> None:
    windows = ["Sat,Sun", "00:00-06:00", "last 1 day"]
    # Sunday 2026-11-29 evening -> Monday 30 is the month's last day -> Tuesday 06:00 GMT
    assert closed(windows, "2026-11-29 20:00") == "2026-12-01 06:00"


def test_the_spring_change_in_london() -> None:
    """2026-03-29: at 01:00 GMT the clocks go to 02:00 BST; 01:00-01:59 never happens."""
    nightly = ["01:30-03:00"]
    assert closed(nightly, "2026-03-29 00:59") is None  # 00:59 GMT
    assert closed(nightly, "2026-03-29 01:00") == "2026-03-29 02:00"  # 02:00 BST: inside
    assert closed(nightly, "2026-03-29 01:59") == "2026-03-29 02:00"  # ends 03:00 BST
    assert closed(nightly, "2026-03-29 02:00") is None
    assert closed(["Sat 23:00-02:00"], "2026-03-29 00:30") == "2026-03-29 01:00"


def test_the_autumn_change_in_london() -> None:
    """2026-10-25: at 02:00 BST the clocks go back to 01:00 GMT; 01:00-01:59 happens twice."""
    nightly = ["01:30-03:00"]
    assert closed(nightly, "2026-10-25 00:29") is None  # 01:29 BST
    assert closed(nightly, "2026-10-25 00:30") == "2026-10-25 03:00"  # 01:30 BST
    assert closed(nightly, "2026-10-25 01:45") == "2026-10-25 03:00"  # 01:45 GMT
    assert closed(nightly, "2026-10-25 03:00") is None  # 03:00 GMT
    assert closed(["00:30-01:15"], "2026-10-25 00:10") == "2026-10-25 01:15"  # second 01:15


def test_other_zones_read_the_recipes_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    assert closed(["01:30-03:00"], "2026-12-01 07:00", new_york) == "2026-12-01 08:00"
    assert closed(["01:30-03:00"], "2026-12-01 02:00", new_york) is None


@pytest.mark.parametrize(("text", "says"), [
    ("25:00-26:00", "not a time"), ("01:30-01:30", "empty"), ("Funday", "not a weekday"),
    ("day 32", "1 to 31"), ("last 40 days", "1 to 28"), ("01:30-3", "HH:MM"), ("", "empty"),
])
def test_a_window_that_makes_no_sense_is_named(text: str, says: str) -> None:
    with pytest.raises(WindowSyntaxError, match=says):
        parse_window(text)


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31),
                    timezones=st.just(UTC)),
       st.sampled_from(["01:30-03:00", "Fri 22:00-02:00", "Sat,Sun", "last 2 days",
                        "day 1 23:00-01:00", "00:30-01:15"]))
def test_inside_until_the_resume_time_and_open_from_it(now: datetime, text: str) -> None:
    windows = (parse_window(text),)
    found = closed_at(windows, now, LONDON)
    if found is None:
        return
    assert found.resumes > now
    assert closed_at(windows, found.resumes, LONDON) is None
    assert closed_at(windows, found.resumes - timedelta(minutes=1), LONDON) is not None


# -- through the CLI ---------------------------------------------------------------------------

def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def with_sage(recipe: Path, lines: str) -> Path:
    text = recipe.read_text().replace('encoding = "cp1252"\n', f'encoding = "cp1252"\n{lines}\n')
    recipe.write_text(text)
    return recipe


def test_inside_a_window_a_run_transforms_delivers_nothing_and_exits_75(
        demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = with_sage(demo_copy, 'blackout = ["01:30-03:00", "Sat,Sun"]')
    state, outbox = tmp_path / "state", tmp_path / "outbox"
    monkeypatch.setattr(import_step, "utc_now", lambda: utc("2026-12-05 10:00"))  # a Saturday
    result = invoke("--state-dir", str(state), "run", str(recipe), "--out", str(outbox),
                    "--json")
    assert result.exit_code == 75, result.output
    assert "blackout window 'Sat,Sun'" in result.stderr
    assert "Delivery resumes at 2026-12-07 00:00 GMT (Europe/London" in result.stderr
    report = json.loads(result.stdout)
    assert report["steps"][1]["documents"] > 0  # transformed
    assert report["steps"][2]["blackout"] == {"window": "Sat,Sun",
                                              "resumes_at": "2026-12-07T00:00:00Z"}
    assert not outbox.exists() or not list(outbox.iterdir())
    with Ledger(state / "ledger.sqlite") as ledger:
        counts = ledger.counts_by_state()
        assert counts.get("queued") and not counts.get("sent")
        assert not ledger.unfinished_batches()  # no batch was started
    monkeypatch.setattr(import_step, "utc_now", lambda: utc("2026-12-07 00:00"))
    after = invoke("--state-dir", str(state), "run", str(recipe), "--out", str(outbox))
    assert after.exit_code == 0, after.output
    with Ledger(state / "ledger.sqlite") as ledger:
        assert ledger.counts_by_state().get("sent") == counts["queued"]
        assert not ledger.counts_by_state().get("queued")


def test_import_sage_inside_a_window_says_when_and_a_dry_run_still_previews(
        demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = with_sage(demo_copy, 'blackout = ["01:30-03:00"]')
    state = tmp_path / "state"
    exported = invoke("--state-dir", str(state), "export-orders", "-r", str(recipe))
    transformed = invoke("--state-dir", str(state), "transform", "--from",
                         exported.stdout.strip())
    documents = transformed.stdout.strip()
    monkeypatch.setattr(import_step, "utc_now", lambda: utc("2026-07-01 00:45"))  # 01:45 BST
    preview = invoke("--state-dir", str(state), "import-sage", "--from", documents, "--out",
                     str(tmp_path / "out"), "--dry-run", "-v")
    assert preview.exit_code == 0 and "would deliver" in preview.stderr
    result = invoke("--state-dir", str(state), "import-sage", "--from", documents, "--out",
                    str(tmp_path / "out"))
    assert result.exit_code == 75
    assert "Delivery resumes at 2026-07-01 03:00 BST (Europe/London; 2026-07-01 02:00 UTC)" \
        in result.stderr
    assert Path(result.stdout.strip()).name == "manifest.json"  # the step still checkpoints


def test_a_bad_window_is_a_recipe_error_naming_the_key(demo_copy: Path, tmp_path: Path) -> None:
    recipe = with_sage(demo_copy, 'blackout = ["01:30-03:00", "Caturday"]')
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert result.exit_code == 2
    assert "sage.blackout[1]" in result.stderr and "Caturday" in result.stderr
    assert "Traceback" not in result.output


# -- the period lock ---------------------------------------------------------------------------

def documents_of(report: dict[str, object]) -> list[dict[str, object]]:
    manifest = Path(report["steps"][1]["manifest"])  # type: ignore[index]
    return pq.read_table(manifest.parent / "documents.parquet").to_pylist()


def test_documents_dated_in_a_locked_period_are_held_with_the_reason(
        demo_copy: Path, tmp_path: Path) -> None:
    recipe = with_sage(demo_copy, "period_locked_until = 2026-10-31")
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe), "--out",
                    str(tmp_path / "out"), "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    causes = {g["code"]: g for g in report["holds_by_cause"]}
    locked = causes["period_locked"]
    assert locked["count"] >= 1
    assert all(r["params"]["locked_until"] == "2026-10-31"
               and r["params"]["posting_date"] <= "2026-10-31" for r in locked["records"])
    dates = {d["posting_date"] for d in documents_of(report) if d["status"] == "ready"}
    assert dates and min(dates).isoformat() > "2026-10-31"  # type: ignore[attr-defined]
    delivered = (tmp_path / "out").glob("*audit_trail*.csv")
    assert not [line for path in delivered for line in path.read_text("cp1252").splitlines()
                if "/10/2026" in line]


def test_redate_moves_a_locked_document_to_the_first_open_day_and_says_so(
        demo_copy: Path, tmp_path: Path) -> None:
    recipe = with_sage(demo_copy, 'period_locked_until = "2026-10-31"\nlocked_period = "redate"')
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe), "--out",
                    str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    moved = [d for d in documents_of(report) if "posting date moved" in (d["warnings"] or "")]
    assert moved
    for document in moved:
        assert document["posting_date"].isoformat() == "2026-11-01"  # type: ignore[union-attr]
        assert "from 2026-10-" in document["warnings"]  # type: ignore[operator]
    files = list((tmp_path / "out").glob("*audit_trail*.csv"))
    text = "".join(p.read_text("cp1252") for p in files)
    assert "01/11/2026" in text and "/10/2026" not in text
