"""Sage despatches become Magento shipments (issue 15 §2), through the CLI against the
simulator: full and partial shipments with carrier and tracking, a Sage order number mapped
back through the ledger, unknown orders and SKUs and over-shipping refused (exit 1), and each
consignment shipped once across reruns, overlapping exports, the watched folder and crashes
at any point of the push."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from sagesync.ledger.shipment_book import ShipmentBook
from sagesync.sage import parse_export
from tests.conftest import ROOT, SAGESYNC, subprocess_env
from tests.magento_sim import MagentoSimulator
from tests.test_order_updates import delivered_and_answered

SAGE = ROOT / "samples" / "sage"
MAGENTO = ROOT / "samples" / "magento"
HEADER = "ORDER_NUMBER,STOCK_CODE,QTY_DESPATCH,COURIER_NAME,CONSIGNMENT\r\n"
# samples/sage/<product>/<file>: each ships the same two orders of samples/magento
SAMPLES = {"sage50_uk": "despatches.csv", "sage200": "sop_despatches.csv",
           "sage100": "SO_Shipments.csv", "sage300": "OESHID.csv", "sagex3": "SDELIVERY.csv",
           "intacct": "shipments.csv"}


def recipe_for(tmp_path: Path, sim: MagentoSimulator, product: str = "sage50_uk",
               extra: str = "") -> Path:
    recipe = tmp_path / "shop.toml"
    recipe.write_text(f'name = "ship"\nstate_dir = "state"\n[magento]\nbase_url = "{sim.url}"\n'
                      f'token = "t"\nretry_attempts = 1\n[sage]\nproduct = "{product}"\n'
                      f"{extra}", encoding="utf-8")
    return recipe


def sagesync(recipe: Path, *args: str, crash_at: str | None = None,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    if crash_at:
        env["SAGESYNC_CRASH_AT"] = crash_at
    return subprocess.run([*SAGESYNC, "-r", str(recipe), *args], capture_output=True,
                          text=True, env=env, cwd=recipe.parent, timeout=120,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)


def ship(recipe: Path, export: Path, *push: str, crash_at: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    """parse-sage FILE --kind shipments | push-magento, as a shell pipe does it."""
    parsed = sagesync(recipe, "parse-sage", str(export), "--kind", "shipments")
    assert parsed.returncode == 0, parsed.stderr
    return sagesync(recipe, "push-magento", *push, stdin=parsed.stdout, crash_at=crash_at)


def despatch(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\r\n" for row in rows), encoding="utf-8")
    return path


def shipped(sim: MagentoSimulator) -> list[tuple[int, str, dict[int, float]]]:
    """(order id, tracking number, {order item id: qty}) of every shipment Magento has."""
    return [(s["order_id"], ",".join(t["track_number"] for t in s["tracks"]),
             {i["order_item_id"]: i["qty"] for i in s["items"]}) for s in sim.rows("shipments")]


def qty_shipped(sim: MagentoSimulator, order_id: int) -> dict[int, float]:
    (order,) = [o for o in sim.rows("orders") if o["entity_id"] == order_id]
    return {i["item_id"]: i["qty_shipped"] for i in order["items"]}


# samples/magento: order 10 is 000000008 (items 1001 HE-INS-ROLL x 10, 1002 BK-1001 x 5),
# order 9 is 200000002 (901 24-UG06 x 3, 902 MH01-S-Gray configurable x 1, 903 its child)
PARTIAL_8 = (10, "RM552301864GB", {1001: 6, 1002: 5})
WHOLE_9 = (9, "1Z999AA10123456784", {901: 3, 902: 1})


@pytest.mark.parametrize("product", sorted(SAMPLES))
def test_every_products_despatch_sample_reads_as_the_same_shipments(product: str) -> None:
    result = parse_export(SAGE / product / SAMPLES[product], product=product, kind="shipments")
    assert result.ok, result.problems
    rows = [(r["order"], r["sku"], r["quantity"], r["tracking_number"])
            for r in result.table.to_pylist()]
    assert rows == [("000000008", "HE-INS-ROLL", Decimal(6), "RM552301864GB"),
                    ("000000008", "BK-1001", Decimal(5), "RM552301864GB"),
                    ("200000002", "24-UG06", Decimal(3), "1Z999AA10123456784"),
                    ("200000002", "MH01-S-Gray", Decimal(1), "1Z999AA10123456784")]


def test_a_despatch_line_without_a_tracking_number_or_with_excel_damage_is_refused(
        tmp_path: Path) -> None:
    path = despatch(tmp_path, "despatch.csv", "000000008,HE-INS-ROLL,6,Royal Mail,",
                    "000000008,BK-1001,5,Royal Mail,1.23457E+17",
                    "000000008,BK-1001,0,Royal Mail,RM1")
    result = parse_export(path, product="sage50_uk", kind="shipments")
    assert not result.ok
    assert [(p.line, p.field) for p in result.problems] == [(2, "tracking_number"),
                                                           (3, "tracking_number")]
    assert "scientific notation" in result.problems[1].message
    assert any("quantity 0 left out" in note for note in result.notes)


def test_a_partial_then_the_rest_with_carrier_tracking_and_the_schema(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    recipe = recipe_for(tmp_path, sim, extra='[shipments]\nnotify = true\n'
                        '[shipments.carriers]\n"Royal Mail" = "royalmail"\n')
    preview = ship(recipe, SAGE / "sage50_uk" / "despatches.csv", "--dry-run", "--json")
    assert preview.returncode == 0, preview.stderr
    assert shipped(sim) == [] and json.loads(preview.stdout)["changed"] == 2
    assert ("would ship: order 000000008, tracking RM552301864GB (royalmail, Royal Mail): "
            "HE-INS-ROLL x 6 (item 1001), BK-1001 x 5 (item 1002)") in preview.stderr
    lines = Path(json.loads(preview.stdout)["preview"]).read_text(encoding="utf-8")
    assert "000000008,RM552301864GB,royalmail,Royal Mail,HE-INS-ROLL,6,1001,would ship" in lines
    assert "200000002,1Z999AA10123456784,ups,UPS,MH01-S-Gray,1,902,would ship" in lines

    done = ship(recipe, SAGE / "sage50_uk" / "despatches.csv")
    assert done.returncode == 0, done.stderr
    assert shipped(sim) == [PARTIAL_8, WHOLE_9]
    assert qty_shipped(sim, 10) == {1001: 6, 1002: 5}
    assert qty_shipped(sim, 9) == {901: 3, 902: 1, 903: 1}  # the child ships with its parent
    tracks = [t for s in sim.rows("shipments") for t in s["tracks"]]
    assert [(t["carrier_code"], t["title"]) for t in tracks] == [("royalmail", "Royal Mail"),
                                                                 ("ups", "UPS")]
    assert all(s["email_sent"] == 1 for s in sim.rows("shipments"))  # notify = true

    rest = despatch(tmp_path, "despatch-2.csv", "000000008,HE-INS-ROLL,4,DPD,15501234567890")
    done = ship(recipe, rest)
    assert done.returncode == 0, done.stderr
    assert shipped(sim)[2] == (10, "15501234567890", {1001: 4})
    assert qty_shipped(sim, 10) == {1001: 10, 1002: 5}
    posts = [json.loads(r.body) for r in sim.requests if r.method == "POST"
             and r.path.endswith("/ship")]
    assert posts[2] == {"items": [{"order_item_id": 1001, "qty": 4}], "notify": True,
                        "tracks": [{"track_number": "15501234567890", "title": "DPD",
                                    "carrier_code": "custom"}]}
    from tests.test_simulator_schema import ship_body_errors

    for body in posts:
        assert ship_body_errors(body) == []


def test_a_rerun_and_an_overlapping_export_ship_each_consignment_once(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    recipe = recipe_for(tmp_path, sim)
    first = despatch(tmp_path, "despatch-1.csv", "000000008,HE-INS-ROLL,6,Royal Mail,RM1",
                     "000000008,BK-1001,5,Royal Mail,RM1")
    assert ship(recipe, first).returncode == 0
    again = ship(recipe, first, "--json")
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["unchanged"], json.loads(again.stdout)["sent"]) == (1, 0)
    assert len(shipped(sim)) == 1
    overlap = despatch(tmp_path, "despatch-2.csv", "000000008,HE-INS-ROLL,6,Royal Mail,RM1",
                       "000000008,BK-1001,5,Royal Mail,RM1",
                       "200000002,24-UG06,3,UPS,1Z2", "200000002,MH01-S-Gray,1,UPS,1Z2")
    done = ship(recipe, overlap, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["changed"], answer["unchanged"], answer["sent"]) == (1, 1, 1)
    assert Counter(t for _, t, _ in shipped(sim)) == {"RM1": 1, "1Z2": 1}
    # a consignment already sent that a later export shows with other lines is not resent
    changed = despatch(tmp_path, "despatch-3.csv", "000000008,HE-INS-ROLL,2,Royal Mail,RM1")
    done = ship(recipe, changed)
    assert done.returncode == 0 and "shipped before with other lines" in done.stderr
    assert len(shipped(sim)) == 2


def test_unknown_orders_and_skus_and_over_shipping_are_refused_and_the_rest_ships(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    recipe = recipe_for(tmp_path, sim)
    export = despatch(tmp_path, "despatch.csv",
                      "000000099,HE-INS-ROLL,1,DPD,D1",  # no such order
                      "000000008,HE-INS-ROLL,2,DPD,D2",
                      "000000008,NOT-ON-ORDER,1,DPD,D2",  # the whole consignment waits
                      "000000008,HE-INS-ROLL,11,DPD,D3",  # only 10 ordered
                      "200000002,24-UG06,3,UPS,U1")
    done = ship(recipe, export)
    assert done.returncode == ExitCode.HELD, done.stderr
    assert "order 000000099 is not in Magento" in done.stderr
    assert "SKU NOT-ON-ORDER is not on order 000000008" in done.stderr
    assert "SKU HE-INS-ROLL: 11 to ship but only 10 left to ship on order 000000008" \
        in done.stderr
    assert shipped(sim) == [(9, "U1", {901: 3})]
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        book = ShipmentBook(ledger)
        assert book.counts() == {"posted": 1, "refused": 3}
        refused = book.get("000000008", "D2")
        assert refused is not None and "NOT-ON-ORDER" in refused.detail
    # status keeps what was not shipped in sight after the push's own report has scrolled by
    shown = sagesync(recipe, "status")
    assert shown.returncode == 0, shown.stderr
    assert "shipments from Sage: 1 posted, 3 refused" in shown.stdout
    assert "refused: order 000000099, tracking D1 (" in shown.stdout
    assert "SKU NOT-ON-ORDER is not on order 000000008" in shown.stdout
    waiting = json.loads(sagesync(recipe, "status", "--json").stdout)["shipments"]
    assert waiting["counts"] == {"posted": 1, "refused": 3}
    assert sorted((w["order"], w["tracking_number"], w["state"]) for w in waiting["waiting"]) \
        == [("000000008", "D2", "refused"), ("000000008", "D3", "refused"),
            ("000000099", "D1", "refused")]
    # trace of an order with no document in the ledger still tells what Sage shipped of it
    traced = sagesync(recipe, "trace", "000000099")
    assert traced.returncode == ExitCode.USAGE and "Traceback" not in traced.stderr
    assert "Sage's despatch files name it: D1 (custom): refused, order 000000099 is not in " \
        "Magento." in traced.stderr
    # Magento refuses what it cannot ship (a cancelled order), matched back to the line
    sim.upsert("orders", {**next(o for o in sim.rows("orders") if o["entity_id"] == 10),
                          "state": "canceled", "status": "canceled"})
    fixed = despatch(tmp_path, "despatch-fixed.csv", "000000008,HE-INS-ROLL,2,DPD,D2")
    done = ship(recipe, fixed)
    assert done.returncode == ExitCode.HELD
    assert "Shipment Document Validation Error(s)" in done.stderr
    assert "status of canceled" in done.stderr and len(shipped(sim)) == 1


def test_a_sage_order_number_is_mapped_back_through_the_ledger(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    answers = ("Type,Reference,Transaction Number,Status,Error\r\n"
               "SI,000000008,5008,OK,\r\n")
    recipe = delivered_and_answered(tmp_path, sim, answers)
    export = tmp_path / "despatch.csv"
    export.write_text("ORDER_NUMBER,STOCK_CODE,QTY_DESPATCH,COURIER_NAME,CONSIGNMENT\r\n"
                      "5008,BK-1001,5,Royal Mail,RM9\r\n"
                      "5099,BK-1001,1,Royal Mail,RM10\r\n", encoding="utf-8")
    done = ship(recipe, export)
    assert done.returncode == ExitCode.HELD, done.stderr
    assert shipped(sim) == [(10, "RM9", {1002: 5})]
    assert "order 5099 is not in Magento" in done.stderr
    # trace follows the order on to its shipment (Magento's id: the simulator's first)
    (shipment_id,) = [s["entity_id"] for s in sim.rows("shipments")]
    traced = sagesync(recipe, "trace", "000000008")
    assert traced.returncode == 0, traced.stderr
    assert traced.stdout.endswith(
        f"order 000000008 shipments:\n  RM9 (custom): posted, Magento shipment {shipment_id}; "
        "BK-1001 x 5\n")
    (entry,) = json.loads(sagesync(recipe, "trace", "000000008", "--json").stdout)
    assert [(s["tracking_number"], s["state"], s["lines"]) for s in entry["shipments"]] == \
        [("RM9", "posted", {"BK-1001": "5"})]


def test_the_watched_folder_ships_a_despatch_file_once(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    recipe = recipe_for(tmp_path, sim)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = (SAGE / "sage50_uk" / "despatches.csv").read_bytes()
    (inbox / "Despatch-2026-12-01.csv").write_bytes(data)
    done = sagesync(recipe, "watch", str(inbox), "--once", "--settle", "0")
    assert done.returncode == 0, done.stderr
    assert shipped(sim) == [PARTIAL_8, WHOLE_9]
    assert list((inbox / "archive").rglob("Despatch-2026-12-01.csv"))
    (inbox / "dispatch-again.csv").write_bytes(
        data + b"5008,000000008,HE-INS-ROLL,4.00,DPD,D4,01/12/2026\r\n")
    again = sagesync(recipe, "watch", str(inbox), "--once", "--settle", "0")
    assert again.returncode == 0, again.stderr
    assert [t for _, t, _ in shipped(sim)] == ["RM552301864GB", "1Z999AA10123456784", "D4"]


# ------------------------------------------------------------------------ crashes


CRASH_EXPORT = ("000000008,HE-INS-ROLL,3,Royal Mail,RM1", "000000008,BK-1001,2,Royal Mail,RM1",
                "000000008,HE-INS-ROLL,3,DPD,D1", "200000002,24-UG06,3,UPS,U1",
                "000000008,HE-INS-ROLL,4,DPD,D2", "000000008,BK-1001,3,DPD,D2")
CRASH_SHIPPED = {"RM1": {1001: 3, 1002: 2}, "D1": {1001: 3}, "U1": {901: 3},
                 "D2": {1001: 4, 1002: 3}}
POINTS = ("shipment-sending", "shipment-posted")


def crash_and_finish(tmp_path: Path, sim: MagentoSimulator,
                     crashes: list[tuple[str, int]], *, status_between: bool = False) -> None:
    """Push the export, killed at each (point, n) in turn, then once to the end: every
    consignment is in Magento once, with its lines, and the ledger says posted. With
    `status_between`, `status` after the kills shows the consignment they interrupted."""
    recipe = recipe_for(tmp_path, sim)
    export = despatch(tmp_path, "despatch.csv", *CRASH_EXPORT)
    parsed = sagesync(recipe, "parse-sage", str(export), "--kind", "shipments")
    manifest = parsed.stdout.strip()
    for point, n in crashes:
        killed = sagesync(recipe, "push-magento", "--from", manifest, crash_at=f"{point}:{n}")
        assert killed.returncode in (137, 0), killed.stderr  # 0: fewer left than n
    if status_between:  # both points are between `sending` and `posted`
        waiting = json.loads(sagesync(recipe, "status", "--json").stdout)["shipments"]
        assert [w["state"] for w in waiting["waiting"]] == ["sending"]
        assert "interrupted (the next push looks for it on the order)" in \
            sagesync(recipe, "status").stdout
    finished = sagesync(recipe, "push-magento", "--from", manifest)
    assert finished.returncode == 0, finished.stderr
    tracks = Counter(t for _, t, _ in shipped(sim))
    assert tracks == Counter(list(CRASH_SHIPPED)), tracks  # each once
    assert {t: items for _, t, items in shipped(sim)} == CRASH_SHIPPED
    assert qty_shipped(sim, 10) == {1001: 10, 1002: 5}
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert ShipmentBook(ledger).counts() == {"posted": 4}


@pytest.mark.parametrize("point", POINTS)
def test_a_push_killed_around_a_post_ships_nothing_twice(  # type: ignore[no-untyped-def]
        tmp_path: Path, point: str, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    crash_and_finish(tmp_path, sim, [(point, 2)], status_between=True)


CRASHES = st.lists(st.tuples(st.sampled_from(POINTS), st.integers(1, 4)), min_size=1,
                   max_size=4)


def _trial(tmp_path_factory: pytest.TempPathFactory, crashes: list[tuple[str, int]]) -> None:
    sim = MagentoSimulator.from_folder(MAGENTO, token="t").start()
    try:
        crash_and_finish(tmp_path_factory.mktemp("trial"), sim, crashes)
    finally:
        sim.stop()


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CRASHES)
def test_pushes_killed_at_random_points_then_rerun_ship_each_consignment_once(
        tmp_path_factory: pytest.TempPathFactory, crashes: list[tuple[str, int]]) -> None:
    _trial(tmp_path_factory, crashes)


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("SHIPMENT_TRIALS", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(CRASHES)
def test_many_random_kills_never_double_a_shipment(
        tmp_path_factory: pytest.TempPathFactory, crashes: list[tuple[str, int]]) -> None:
    _trial(tmp_path_factory, crashes)



def test_one_recipe_maps_its_stock_and_despatch_columns_together(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    recipe = recipe_for(tmp_path, sim, extra='[sage_export]\ncolumns = { order = "Your Ref", '
                        'tracking_number = "Parcel", on_hand = "Free" }\n')
    export = tmp_path / "despatch.csv"
    export.write_text("Your Ref,STOCK_CODE,QTY_DESPATCH,COURIER_NAME,Parcel\r\n"
                      "000000008,BK-1001,5,DHL,JD0001\r\n", encoding="utf-8")
    done = ship(recipe, export)
    assert done.returncode == 0, done.stderr
    assert shipped(sim) == [(10, "JD0001", {1002: 5})]
    assert sim.rows("shipments")[0]["tracks"][0]["carrier_code"] == "dhl"  # known by name
    stock = tmp_path / "stock.csv"
    stock.write_text("STOCK_CODE,Free\r\nBK-1001,4\r\n", encoding="utf-8")
    parsed = sagesync(recipe, "parse-sage", str(stock), "--kind", "stock")
    assert parsed.returncode == 0, parsed.stderr
    typo = recipe_for(tmp_path, sim, extra='[sage_export]\ncolumns = { tracking = "Parcel" }\n')
    refused = sagesync(typo, "parse-sage", str(export), "--kind", "shipments")
    assert refused.returncode == ExitCode.USAGE and "tracking" in refused.stderr


def test_a_dry_run_without_a_store_shows_the_files_plan_and_a_push_needs_one(
        tmp_path: Path) -> None:
    recipe = tmp_path / "offline.toml"
    recipe.write_text(f'name = "offline"\nstate_dir = "state"\n[magento]\nsource = '
                      f'"{MAGENTO.as_posix()}"\n[sage]\nproduct = "sage50_uk"\n',
                      encoding="utf-8")
    preview = ship(recipe, SAGE / "sage50_uk" / "despatches.csv", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert ("would ship: order 000000008, tracking RM552301864GB: HE-INS-ROLL x 6, "
            "BK-1001 x 5 (not checked against the store)") in preview.stderr
    pushed = ship(recipe, SAGE / "sage50_uk" / "despatches.csv")
    assert pushed.returncode == ExitCode.USAGE and "[magento] base_url" in pushed.stderr


def test_a_sage_number_that_is_also_a_magento_order_number_is_refused_not_guessed(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=MAGENTO, token="t")
    # Sage numbered invoice 000000008's document "200000002": Magento's order number too
    answers = ("Type,Reference,Transaction Number,Status,Error\r\n"
               "SI,000000008,200000002,OK,\r\n")
    recipe = delivered_and_answered(tmp_path, sim, answers)
    export = tmp_path / "despatch.csv"
    export.write_text("ORDER_NUMBER,STOCK_CODE,QTY_DESPATCH,COURIER_NAME,CONSIGNMENT\r\n"
                      "200000002,24-UG06,3,UPS,U1\r\n", encoding="utf-8")
    done = ship(recipe, export)
    assert done.returncode == ExitCode.HELD, done.stderr
    assert "is both a Magento order number and Sage's number of Magento order 000000008" \
        in done.stderr
    assert shipped(sim) == []
