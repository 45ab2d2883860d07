"""The daily digest over a ledger built by real runs of the demo recipe: its counts checked
against the ledger's records, its amounts against the Sage file that was delivered (summed
here from the CSV, per store, tax code and type), and the e-mail an SMTP server on loopback
received (plain text and HTML, every Magento value escaped)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from tests.fixtures_alerts import SMTP_PASSWORD, SmtpServer, smtp_server  # noqa: F401
from tests.test_alerts import alert_recipe, without_five_percent

SUFFIXES = ("-FEE", "-GIFT", "-CREDIT", "-REWARD")
NASTY = 'INV<b>4</b>&"x"'


def today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("Europe/London")).date()


def state_of(recipe: Path) -> Path:
    return recipe.parent.parent / "demo-state"


def sage_amounts(state: Path) -> dict[tuple[int, str, str], tuple[Decimal, Decimal, int]]:
    """(store, tax code, type) -> (net, tax, documents), from the delivered audit-trail file,
    each row's store found through the ledger by its reference."""
    with Ledger(state / "ledger.sqlite") as ledger:
        stores = {(t, inc): s for t, inc, s in ledger.db.execute(
            "SELECT entity_type, increment_id, store_id FROM records")}
    totals: dict[tuple[int, str, str], list[object]] = {}
    for path in sorted((state / "outbox").glob("*audit_trail*.csv")):
        with path.open(encoding="cp1252", newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        for row in rows:
            kind, reference, net, code, tax = row[0], row[5], row[7], row[8], row[9]
            base = next((reference[: -len(s)] for s in SUFFIXES if reference.endswith(s)),
                        reference)
            own = kind if base == reference else ("SC" if kind == "SI" else "SI")
            store = stores[("invoice" if own == "SI" else "creditmemo", base)]
            entry = totals.setdefault((store, code, kind), [Decimal(0), Decimal(0), set()])
            entry[0] += Decimal(net)  # type: ignore[operator]
            entry[1] += Decimal(tax)  # type: ignore[operator]
            entry[2].add(base)  # type: ignore[attr-defined]
    return {k: (v[0], v[1], len(v[2])) for k, v in totals.items()}  # type: ignore[misc, arg-type]


def ledger_counts(state: Path) -> dict[int, dict[str, int]]:
    with Ledger(state / "ledger.sqlite") as ledger:
        found: dict[int, dict[str, int]] = {}
        for store, record_state, count in ledger.db.execute(
                "SELECT store_id, state, count(*) FROM records GROUP BY store_id, state"):
            found.setdefault(store, {})[record_state] = count
    return found


def test_digest_counts_and_amounts_match_the_ledger_and_the_sage_file(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path) -> None:
    without_five_percent(demo_copy)
    assert run_cli("run", str(demo_copy)).exit_code == ExitCode.HELD
    state = state_of(demo_copy)
    # Sage confirms two of the delivered invoices
    export = demo_copy.parent / "sage-audit.csv"
    export.write_text("Type,Reference,Transaction Number\r\nSI,000000001,501\r\n"
                      "SI,000000002,502\r\n", encoding="utf-8")
    assert run_cli("-r", str(demo_copy), "ack", str(export)).exit_code == ExitCode.OK
    result = run_cli("-r", str(demo_copy), "digest", "--date", today().isoformat(), "--json")
    assert result.exit_code == 0, result.output
    digest = json.loads(result.stdout)
    assert digest["day"] == today().isoformat() and digest["timezone"] == "Europe/London"
    stores = {s["store_id"]: s for s in digest["stores"]}
    counts = ledger_counts(state)
    assert sorted(stores) == sorted(counts) == [1, 2]
    for store_id, day in stores.items():
        states = counts[store_id]
        assert day["exported"] == sum(states.values())  # all registered today
        assert day["sent"] == states.get("sent", 0) + states.get("confirmed", 0)
        assert day["confirmed"] == states.get("confirmed", 0)
        assert day["held"] == states.get("held", 0)
        assert day["void"] == 0
    assert (stores[1]["exported"], stores[1]["sent"], stores[1]["confirmed"],
            stores[1]["held"]) == (9, 5, 2, 4)
    # amounts: exactly what the Sage file carries, per store, tax code and type
    expected = sage_amounts(state)
    got = {(s["store_id"], a["tax_code"], a["transaction_type"]):
           (Decimal(a["net"]), Decimal(a["tax"]), a["documents"])
           for s in digest["stores"] for a in s["amounts"]}
    assert got == expected
    assert {a["currency"] for s in digest["stores"] for a in s["amounts"]} == {"GBP"}
    assert got[(1, "T1", "SI")] == (Decimal("300.18"), Decimal("60.04"), 4)
    # what waits for a person, with the commands status suggests
    waiting = stores[1]["waiting"]
    assert [(w["state"], w["code"], w["count"]) for w in waiting] == [
        ("held", "unmapped_tax_rate", 4)]
    assert waiting[0]["commands"][-1] == (f"sagesync -r {demo_copy.resolve()} retry "
                                          "creditmemo:2@1 invoice:4@1 invoice:5@1 invoice:8@1")
    status = json.loads(run_cli("-r", str(demo_copy), "status", "--json").stdout)
    assert status["holds_by_cause"][0]["commands"] == waiting[0]["commands"]
    oldest = stores[1]["oldest_pending"]
    assert oldest["state"] == "held" and oldest["key"] in {
        w["key"] for w in waiting[0]["records"]}
    assert stores[2]["oldest_pending"] is None and stores[2]["waiting"] == []
    # another day has nothing; the printed form says the same numbers
    empty = run_cli("-r", str(demo_copy), "digest", "--date", "2020-01-01", "--json")
    # (a store shows when something happened that day or something of it waits now)
    assert [(s["store_id"], s["sent"], s["amounts"], len(s["waiting"]))
            for s in json.loads(empty.stdout)["stores"]] == [(1, 0, [], 1)]
    printed = run_cli("-r", str(demo_copy), "digest", "--date", today().isoformat()).stdout
    assert "exported 9, sent 5, confirmed 2, held 4, void 0" in printed
    assert "GBP T1     SI  4 documents  net 300.18  tax 60.04  gross 360.22" in printed


@pytest.mark.parametrize("lost", ["manifest.json", "splits.parquet"])
def test_a_removed_or_damaged_checkpoint_leaves_the_amounts_listed_as_unknown(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, lost: str) -> None:
    assert run_cli("run", str(demo_copy)).exit_code == ExitCode.OK
    for folder in (state_of(demo_copy) / "runs").glob("*/transform"):
        if lost.endswith(".json"):
            (folder / lost).unlink()
        else:
            (folder / lost).write_bytes(b"damaged")
    digest = json.loads(run_cli("-r", str(demo_copy), "digest", "--date", today().isoformat(),
                                "--json").stdout)
    store = next(s for s in digest["stores"] if s["store_id"] == 2)
    assert store["sent"] == 1 and store["amounts"] == []
    assert len(store["amounts_missing"]) == 1 and "is gone" in store["amounts_missing"][0]


def test_digest_by_mail_has_text_and_html_with_magento_values_escaped(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, smtp_server: SmtpServer) -> None:  # noqa: F811
    page = demo_copy.parent.parent / "samples" / "magento" / "invoices" / "page-0001.json"
    page.write_text(page.read_text(encoding="utf-8").replace(
        '"increment_id": "000000004"', f'"increment_id": {json.dumps(NASTY)}'),
        encoding="utf-8")
    recipe = alert_recipe(demo_copy, smtp_server, None)
    without_five_percent(recipe)
    assert run_cli("run", str(recipe)).exit_code == ExitCode.HELD
    smtp_server.received.clear()  # the held alert
    sent = run_cli("-r", str(recipe), "digest", "--date", today().isoformat(), "--send")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout == ""
    assert f"digest for {today().isoformat()} sent to finance@example.com" in sent.output
    (mail,) = smtp_server.received
    assert mail["Subject"] == (f"[sagesync demo] digest {today().isoformat()}: 6 sent, "
                               "4 waiting for a person")
    assert mail.get_content_type() == "multipart/alternative"
    text_part = mail.get_body(preferencelist=("plain",))
    html_part = mail.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content().replace("\r\n", "\n")
    html = html_part.get_content()
    printed = run_cli("-r", str(recipe), "digest", "--date", today().isoformat()).stdout
    assert _without_stamp(text) == _without_stamp(printed)
    assert f"invoice:4@1 ({NASTY}, order 000000004)" in text
    assert "INV&lt;b&gt;4&lt;/b&gt;&amp;&quot;x&quot;" in html
    assert NASTY not in html and "<b>4</b>" not in html
    assert "<td>T1</td><td>SI</td><td>4</td><td>300.18</td><td>60.04</td><td>360.22</td>" \
        in html
    assert SMTP_PASSWORD not in mail.as_string()


def _without_stamp(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("Generated at"))


def test_digest_send_without_smtp_is_a_usage_error(run_cli, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("-r", str(demo_copy), "digest", "--send")
    assert result.exit_code == ExitCode.USAGE
    assert "digest --send needs [alerts] smtp_host" in result.output


def test_a_bad_date_is_a_usage_error(run_cli, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("-r", str(demo_copy), "digest", "--date", "30/11/2026")
    assert result.exit_code == ExitCode.USAGE
    assert "'30/11/2026' is not a date YYYY-MM-DD" in result.output


def test_the_default_day_is_yesterday_in_the_recipes_zone(run_cli, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("run", str(demo_copy)).exit_code == ExitCode.OK
    digest = json.loads(run_cli("-r", str(demo_copy), "digest", "--json").stdout)
    expected = datetime.now(UTC).astimezone(ZoneInfo("Europe/London")).date().toordinal() - 1
    assert date.fromisoformat(digest["day"]).toordinal() == expected
    assert all(s["sent"] == 0 for s in digest["stores"])  # everything happened today
