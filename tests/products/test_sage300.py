"""Sage 300: the O/E Orders and O/E Credit/Debit Notes single CSVs and the A/R customers file,
read back from their bytes.

Sage 300 computes the tax from tax classes, so the files carry net amounts and the
reconciliation with Magento is on net: per document, the details' extended amounts
(quantity x net price, to the cent) sum to Magento's grand total less its tax. Credit memos
are credit notes in a file of their own (QTYRETURN, the refund adjustments and shipping as
miscellaneous charges, the fee a negative one), applied to their invoice; the lines an O/E
document cannot hold hold it. The conformance suite (`tests/conformance`, `-k sage300`)
covers exactly once, splitting, encoding, codes and dates and the golden files.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sagesync.alerts.triggers import unconfirmed
from sagesync.cli.main import cli
from sagesync.errors import RecipeError
from sagesync.ledger import Ledger
from sagesync.pipeline import import_step
from sagesync.recipe import load_recipe
from sagesync.sage import products
from sagesync.testing.factory import (
    AddressSpec,
    CustomerSpec,
    LineSpec,
    OrderSpec,
    build_order,
    to_decimal,
)
from tests.conformance.harness import (
    Delivered,
    MagentoStore,
    Row,
    few,
    write_recipe,
)
from tests.products.common import causes, cell, run_json, store_of
from tests.strategies import creditmemo_args, order_specs

SAGE300 = products.get("sage300")
CENT = Decimal("0.01")
#: every rate the strategies draw, on item tax classes (17.5 % is an old UK rate)
TAX_CLASSES = {"20": "1", "17.5": "4", "5": "3", "0": "2"}
HEADINGS = (
    b'"RECTYPE","ORDUNIQ","CUSTOMER","ORDDATE","EXPDATE","TYPE","PONUMBER","REFERENCE","DESC",'
    b'"INVPRODUCE","INVDATE","SHIDATE","POSTINV"\r\n'
    b'"RECTYPE","ORDUNIQ","LINENUM","LINETYPE","ITEM","MISCCHARGE","DESC","LOCATION",'
    b'"QTYORDERED","QTYSHIPPED","PRIUNTPRC","EXTINVMISC","TCLASS1"\r\n'
    b'"RECTYPE","ORDUNIQ","LINENUM","SERIALNUMF"\r\n'
    b'"RECTYPE","ORDUNIQ","LINENUM","LOTNUMF"\r\n'
    b'"RECTYPE","ORDUNIQ","PAYMENT"\r\n'
    b'"RECTYPE","ORDUNIQ","UNIQUIFIER"\r\n'
    b'"RECTYPE","ORDUNIQ","OPTFIELD","VALUE"\r\n')


# --------------------------------------------------------------------------- helpers


def ann_lee(customer_id: int | None = 7) -> CustomerSpec:
    address = AddressSpec("Ann", "Lee", ("1 Park Row",), "Leeds", "LS1 5AB", "0113 496 0000",
                          region="West Yorkshire")
    return CustomerSpec("ann@example.com", "Ann", "Lee", address, customer_id=customer_id)


def known_order(entity_id: int = 42, **changes: Any) -> OrderSpec:
    """Two items at 20 % (one 10 % off), a book at 0 %, one at 5 %, shipping at 20 %."""
    spec = OrderSpec(
        entity_id=entity_id, increment_id=f"{entity_id:09d}",
        created_at=datetime(2026, 11, 2, 9, 15, 27, tzinfo=UTC), customer=ann_lee(),
        lines=(LineSpec("TEE-1", "Tee", 2, Decimal("10.00"), Decimal(20), Decimal(10)),
               LineSpec("BK-1001", "Handbook", 1, Decimal("12.99"), Decimal(0)),
               LineSpec("MUG-2", "Mug", 3, Decimal("2.33"), Decimal(5))),
        shipping_amount=Decimal("4.95"), state="complete", invoiced=True)
    return replace(spec, **changes)


def run(folder: Path, store: MagentoStore, *, sage: dict[str, Any] | None = None,
        mapping: dict[str, Any] | None = None) -> tuple[dict[str, Any], Delivered]:
    return run_json(SAGE300, TAX_CLASSES, folder, store, sage=sage, mapping=mapping)


CREDIT_HEADINGS = (
    b'"RECTYPE","CRDUNIQ","CRDNUMBER","CUSTOMER","INVNUMBER","CRDDATE","REFERENCE","DESC"\r\n'
    b'"RECTYPE","CRDUNIQ","LINENUM","LINETYPE","ITEM","MISCCHARGE","DESC","LOCATION",'
    b'"QTYRETURN","PRIUNTPRC","EXTCRDMISC","TCLASS1"\r\n'
    b'"RECTYPE","CRDUNIQ","LINENUM","SERIALNUMF"\r\n'
    b'"RECTYPE","CRDUNIQ","LINENUM","LOTNUMF"\r\n'
    b'"RECTYPE","CRDUNIQ","UNIQUIFIER"\r\n'
    b'"RECTYPE","CRDUNIQ","OPTFIELD","VALUE"\r\n')


def credit_notes_file(folder: Path) -> bytes:
    (path,) = (folder / "out").glob("*-credit_notes*.csv")
    return path.read_bytes()


def credit_notes(delivered: Delivered) -> dict[str, tuple[Row, list[Row]]]:
    """CRDNUMBER -> (header row, its detail rows), each detail after its header, sharing its
    CRDUNIQ."""
    found: dict[str, tuple[Row, list[Row]]] = {}
    header: Row | None = None
    for row in delivered.rows:
        if row.template != "credit_notes":
            continue
        if row.record.startswith("credit note header"):
            header = row
            assert cell(row, "CRDNUMBER") not in found, "a credit note written twice"
            found[cell(row, "CRDNUMBER")] = (row, [])
        else:
            assert header is not None and row.record.startswith("credit note detail"), row
            assert cell(row, "CRDUNIQ") == cell(header, "CRDUNIQ")
            found[cell(header, "CRDNUMBER")][1].append(row)
    return found


def orders_file(folder: Path) -> bytes:
    (path,) = (folder / "out").glob("*-orders*.csv")
    return path.read_bytes()


def documents(delivered: Delivered) -> dict[str, tuple[Row, list[Row]]]:
    """PONUMBER -> (header row, its detail rows), checking each detail follows its header
    and carries its ORDUNIQ."""
    found: dict[str, tuple[Row, list[Row]]] = {}
    header: Row | None = None
    for row in delivered.rows:
        if row.template != "orders":
            continue
        if row.record.startswith("order header"):
            header = row
            assert cell(row, "PONUMBER") not in found, "a document written twice"
            found[cell(row, "PONUMBER")] = (row, [])
        else:
            assert header is not None and row.record.startswith("order detail"), row
            assert cell(row, "ORDUNIQ") == cell(header, "ORDUNIQ")
            found[cell(header, "PONUMBER")][1].append(row)
    return found


def magento_net(document: dict[str, Any]) -> Decimal:
    """Magento's base grand total less its tax, in cents: what Sage 300 gets before tax."""
    return (to_decimal(document["base_grand_total"]).quantize(CENT)
            - to_decimal(document["base_tax_amount"]).quantize(CENT))


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- exact bytes


def test_a_known_invoice_is_written_byte_for_byte(tmp_path: Path) -> None:
    """Net prices after the discount, the book from items_csv at its own location, the rest
    at the recipe's default location, shipping a misc charge; ship and invoice at once."""
    store = store_of(tmp_path, [known_order()])
    report, _ = run(tmp_path, store)
    assert report["exit_code"] == 0 and not report["holds_by_cause"]
    assert orders_file(tmp_path) == HEADINGS + (
        b'1,1,"LEEANN01",20261102,20261102,1,000000042,000000042,"Magento invoice 000000042",'
        b'1,20261102,20261102,0\r\n'
        b'2,1,1,1,"TEE-1",,"Tee",1,2.0000,2.0000,9.000000,18.00,1\r\n'
        b'2,1,2,1,"B1-1001",,"Handbook",2,1.0000,1.0000,12.990000,12.99,2\r\n'
        b'2,1,3,1,"MUG-2",,"Mug",1,3.0000,3.0000,2.330000,6.99,3\r\n'
        b'2,1,4,2,,"FRT",,,,,,4.95,1\r\n')
    (customers,) = (tmp_path / "out").glob("*-customers.csv")
    assert customers.read_bytes() == (
        b'"IDCUST","NAMECUST","IDGRP","TEXTSTRE1","TEXTSTRE2","NAMECITY","CODESTTE",'
        b'"CODEPSTL","CODECTRY","NAMECTAC","TEXTPHON1"\r\n'
        b'"LEEANN01","Ann Lee","WEB","1 Park Row",,"Leeds","West Yorkshire","LS1 5AB","GB",'
        b'"Ann Lee","0113 496 0000"\r\n')
    # 18.00 + 12.99 + 6.99 + 4.95 = 42.93 net; Magento's tax 3.60 + 0.35 + 0.99 is Sage's
    assert report["steps"][2]["totals"] == {"SI": "42.93"}
    assert report["steps"][2]["totals_basis"] == "net (Sage computes the tax)"


def test_an_open_order_is_neither_shipped_nor_invoiced(tmp_path: Path) -> None:
    """post_from = "orders": INVPRODUCE 0, no QTYSHIPPED, no invoice or shipment date."""
    store = store_of(tmp_path, [known_order(state="processing", invoiced=False)],
                     invoiced=False)
    report, _ = run(tmp_path, store, sage={"post_from": "orders"},
                    mapping={"customer_group": "RETAIL", "default_warehouse": "MAIN"})
    assert report["exit_code"] == 0
    body = orders_file(tmp_path).removeprefix(HEADINGS)
    assert body.splitlines()[:2] == [
        b'1,1,"LEEANN01",20261102,20261102,1,000000042,000000042,"Magento order 000000042",'
        b'0,,,0',
        b'2,1,1,1,"TEE-1",,"Tee","MAIN",2.0000,,9.000000,18.00,1']
    (customers,) = (tmp_path / "out").glob("*-customers.csv")
    assert b'"LEEANN01","Ann Lee","RETAIL",' in customers.read_bytes()


def test_the_run_summary_says_the_totals_are_net(tmp_path: Path) -> None:
    store = store_of(tmp_path, [known_order()])
    recipe = write_recipe(SAGE300, tmp_path, store.source, mapping={"tax_codes": TAX_CLASSES})
    result = CliRunner().invoke(cli, ["run", "-v", str(recipe)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "SI net (Sage computes the tax)" in result.stderr and "42.93" in result.stderr
    assert "net + tax" not in result.stderr


# --------------------------------------------------------------------------- net balance


@few(10)
@given(data=st.data())
def test_generated_stores_reconcile_on_net_to_the_cent(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Composites, discounts (on prices with or without tax, on shipping), several rates,
    credit memos with part quantities, shipping refunds and adjustments: per document the
    details' extended amounts sum to Magento's grand total less tax, each item's quantity x
    price gives its extended amount as Sage computes it, every amount is positive but a
    credit note's fee, and the summary's net per type is the files'."""
    folder = tmp_path_factory.mktemp("sage300-net")
    specs = data.draw(st.lists(order_specs(invoiced=True, max_lines=4), min_size=1,
                               max_size=4, unique_by=lambda s: s.entity_id))
    memos: list[dict[str, Any] | None] = [
        data.draw(st.none() | creditmemo_args(build_order(spec))) for spec in specs]
    store = store_of(folder, specs, memos=memos)
    report, delivered = run(folder, store)
    assert report["exit_code"] == 0 and not report["holds_by_cause"], report["holds_by_cause"]
    written = documents(delivered)
    for invoice in store.invoices:
        net = magento_net(invoice)
        if str(invoice["increment_id"]) not in written:  # a 100 % coupon: nothing to book
            assert net == 0 and to_decimal(invoice["base_grand_total"]) == 0, invoice
            continue
        header, details = written[str(invoice["increment_id"])]
        assert cell(header, "INVPRODUCE") == "1" and cell(header, "TYPE") == "1"
        assert details and sum(Decimal(cell(d, "EXTINVMISC")) for d in details) == net
        assert [cell(d, "LINENUM") for d in details] == \
            [str(n) for n in range(1, len(details) + 1)]
        for row in details:
            extended = Decimal(cell(row, "EXTINVMISC"))
            assert extended >= 0
            if cell(row, "LINETYPE") == "1":
                quantity, price = Decimal(cell(row, "QTYORDERED")), Decimal(cell(row,
                                                                              "PRIUNTPRC"))
                assert quantity > 0 and price >= 0
                assert cell(row, "QTYSHIPPED") == cell(row, "QTYORDERED")
                assert half_up(quantity * price) == extended, row.cells
            else:
                assert cell(row, "LINETYPE") == "2" and cell(row, "MISCCHARGE") == "FRT"
    assert len(written) == len([i for i in store.invoices if magento_net(i)])
    notes = credit_notes(delivered)
    for memo in store.creditmemos:
        if _zero(memo):  # nothing to refund: skipped, never written
            assert str(memo["increment_id"]) not in notes
            continue
        header, details = notes[str(memo["increment_id"])]
        assert cell(header, "INVNUMBER") == f"{memo['invoice_id']:09d}"  # the Magento invoice
        assert sum(Decimal(cell(d, "EXTCRDMISC")) for d in details) == magento_net(memo), \
            "the credit note is the memo net of tax, to the cent"
        assert [cell(d, "LINENUM") for d in details] == \
            [str(n) for n in range(1, len(details) + 1)]
        for row in details:
            extended = Decimal(cell(row, "EXTCRDMISC"))
            charge = cell(row, "MISCCHARGE")
            if cell(row, "LINETYPE") == "1":
                quantity = Decimal(cell(row, "QTYRETURN"))
                assert quantity > 0 and extended >= 0
                assert half_up(quantity * Decimal(cell(row, "PRIUNTPRC"))) == extended
            elif charge == "FRT":  # shipping refunded
                assert extended > 0 and cell(row, "QTYRETURN") == ""
            else:  # an adjustment refund, or the fee kept back (the one negative line)
                assert charge == "ADJ" and extended != 0
        fees = [Decimal(cell(d, "EXTCRDMISC")) for d in details
                if Decimal(cell(d, "EXTCRDMISC")) < 0]
        assert -sum(fees, Decimal(0)) == to_decimal(memo["base_adjustment_negative"]).quantize(
            CENT)
    assert set(notes) == {str(m["increment_id"]) for m in store.creditmemos if not _zero(m)}
    totals = report["steps"][2]["totals"]
    for kind, rows, column in (("SI", written, "EXTINVMISC"), ("SC", notes, "EXTCRDMISC")):
        file_net = sum((Decimal(cell(r, column)) for _, details in rows.values()
                        for r in details), Decimal(0))
        assert Decimal(totals.get(kind, "0")) == file_net, kind


def _zero(memo: dict[str, Any]) -> bool:
    """A credit memo with nothing to book (skipped, never held)."""
    return all(to_decimal(memo.get(f"base_{name}")).quantize(CENT) == 0 for name in
               ("grand_total", "tax_amount", "adjustment_positive", "adjustment_negative"))


# --------------------------------------------------------------------------- holds


def test_a_known_credit_memo_is_a_credit_note_byte_for_byte(tmp_path: Path) -> None:
    """Every line returned (QTYRETURN), shipping refunded, an adjustment refund of 2.50 and a
    fee of 1.00 kept back as a negative charge; applied to the Magento invoice; the note is
    the memo's grand total less its tax, and goes to its own file after the orders."""
    store = store_of(tmp_path, [known_order()],
                     memos=[{"refund_shipping": Decimal("4.95"),
                             "adjustment_positive": Decimal("2.50"),
                             "adjustment_negative": Decimal("1.00")}])
    report, _ = run(tmp_path, store)
    assert report["exit_code"] == 0 and not report["holds_by_cause"]
    assert [p.name for p in sorted((tmp_path / "out").iterdir())] == [
        "B000001-1-customers.csv", "B000001-2-orders.csv", "B000001-3-credit_notes.csv"]
    assert credit_notes_file(tmp_path) == CREDIT_HEADINGS + (
        b'1,1,"C000000042","LEEANN01",000000042,20261104,000000042,'
        b'"Magento credit memo C000000042"\r\n'
        b'2,1,1,1,"TEE-1",,"Tee",1,2.0000,9.000000,18.00,1\r\n'
        b'2,1,2,1,"B1-1001",,"Handbook",2,1.0000,12.990000,12.99,2\r\n'
        b'2,1,3,1,"MUG-2",,"Mug",1,3.0000,2.330000,6.99,3\r\n'
        b'2,1,4,2,,"FRT",,,,,4.95,1\r\n'
        b'2,1,5,2,,"ADJ",,,,,2.50,2\r\n'
        b'2,1,6,2,,"ADJ",,,,,-1.00,2\r\n')
    memo = store.creditmemos[0]
    # 18.00 + 12.99 + 6.99 + 4.95 + 2.50 - 1.00 = 44.43: Magento's refund less its tax
    assert magento_net(memo) == Decimal("44.43")
    assert report["steps"][2]["totals"] == {"SI": "42.93", "SC": "44.43"}


def test_the_credit_note_names_sage_s_invoice_once_ack_has_given_it(tmp_path: Path) -> None:
    """The invoice is sent and confirmed with Sage's numbers; the credit memo, exported in a
    later run, is applied to Sage's invoice number (INVNUMBER), not Magento's."""
    run(tmp_path, store_of(tmp_path / "first", [known_order()]))
    recipe = tmp_path / "recipe.toml"
    export = tmp_path / "Orders.csv"
    export.write_text('"ORDNUMBER","PONUMBER","INVNUMBER"\r\n'
                      '"ORD000101","000000042","IN000201"\r\n', encoding="cp1252")
    acked = CliRunner().invoke(cli, ["-r", str(recipe), "ack", str(export)],
                               catch_exceptions=False)
    assert acked.exit_code == 0, acked.output
    later = store_of(tmp_path / "later", [known_order()], memos=[{}])
    text = recipe.read_text(encoding="utf-8")
    recipe.write_text(text.replace((tmp_path / "first" / "pages").as_posix(),
                                   later.source.as_posix()), encoding="utf-8")
    again = CliRunner().invoke(cli, ["run", str(recipe), "--json"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    (note,) = sorted((tmp_path / "out").glob("B000002-*"))
    assert note.name == "B000002-3-credit_notes.csv"
    header = note.read_bytes().removeprefix(CREDIT_HEADINGS).split(b"\r\n")[0]
    assert header == (b'1,1,"C000000042","LEEANN01","IN000201",20261104,000000042,'
                      b'"Magento credit memo C000000042"')
    with Ledger(load_recipe(recipe).state_dir / "ledger.sqlite") as ledger:
        states = {str(r.key): r.state for r in ledger.rows()}
    assert states == {"invoice:42@1": "confirmed", "creditmemo:1@1": "sent"}


def test_lines_an_order_cannot_hold_hold_their_document(tmp_path: Path) -> None:
    """A gift card taken off the total (mapped) has no O/E line type; the other order goes."""
    paid = known_order(43, gift_card_amount=Decimal("5.00"))
    store = store_of(tmp_path, [known_order(), paid])
    report, delivered = run(tmp_path, store,
                            mapping={"payment_nominals": {"gift_card": "2105"}})
    (held,) = causes(report)["template_rule_broken"]
    assert held["key"] == "invoice:43@1"
    assert held["message"] == "'LINETYPE' 'gift_card' does not match [12]"
    assert set(documents(delivered)) == {"000000042"}


def test_negative_discount_lines_are_held_rather_than_sent(tmp_path: Path) -> None:
    store = store_of(tmp_path, [known_order()])
    report, delivered = run(tmp_path, store, sage={"negative_amounts": True},
                            mapping={"discount": "nominal"})
    (held,) = causes(report)["negative_amount"]
    assert held["key"] == "invoice:42@1" and held["params"]["recipe_can_allow"] == 0
    assert not documents(delivered)


def test_codes_over_sage_300_lengths_hold_their_document(tmp_path: Path) -> None:
    """An item code over ITEM's 24 characters, a location over LOCATION's 6."""
    items = tmp_path / "items.csv"
    items.write_text("sku,item_code,warehouse\nTEE-1," + "X" * 25 + ",1\n"
                     "MUG-2,MUG,WAREHSE\n", encoding="utf-8")
    store = store_of(tmp_path, [known_order(42, lines=known_order().lines[:1]),
                                known_order(44, lines=known_order().lines[2:])])
    report, delivered = run(tmp_path, store, mapping={"items_csv": items.as_posix()})
    messages = {r["key"]: r["message"] for r in causes(report)["template_rule_broken"]}
    assert messages == {"invoice:42@1": f"'ITEM' is 25 characters, Sage allows 24: "
                                        f"'{'X' * 25}'",
                        "invoice:44@1": "'LOCATION' is 7 characters, Sage allows 6: 'WAREHSE'"}
    assert not documents(delivered)


def test_recipe_codes_are_checked_by_sage_300s_rules(tmp_path: Path) -> None:
    store = store_of(tmp_path, [known_order()])
    for mapping, key in (({"tax_codes": {"20": "T1"}}, "mapping.tax_codes.20"),
                         ({"customer_group": "WEBSHOP"}, "mapping.customer_group"),
                         ({"default_warehouse": "WAREHSE"}, "mapping.default_warehouse")):
        recipe = write_recipe(SAGE300, tmp_path, store.source, mapping=mapping)
        with pytest.raises(RecipeError, match=key.replace(".", r"\.")):
            load_recipe(recipe)


# --------------------------------------------------------------------------- linking, ack


def test_orduniq_stays_unique_in_a_file_rendered_in_several_windows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ORDUNIQ links a header to its details: it must not start again with each window of
    documents the import renders (2,000 at a time; 2 here)."""
    monkeypatch.setattr(import_step, "WINDOW", 2)
    specs = [known_order(n, customer=ann_lee(None)) for n in range(50, 55)]
    _, delivered = run(tmp_path, store_of(tmp_path, specs))
    written = documents(delivered)
    assert [cell(h, "ORDUNIQ") for h, _ in written.values()] == ["1", "2", "3", "4", "5"]
    assert [cell(h, "PONUMBER") for h, _ in written.values()] == \
        [f"{n:09d}" for n in range(50, 55)]


def test_ack_reads_sage_300s_order_export_without_a_type_column(tmp_path: Path) -> None:
    store = store_of(tmp_path, [known_order(), known_order(43)])
    run(tmp_path, store)
    export = tmp_path / "Orders.csv"
    export.write_text('"ORDNUMBER","PONUMBER","INVNUMBER","CUSTOMER"\r\n'
                      '"ORD000101","000000042","IN000201","LEEANN01"\r\n'
                      '"ORD000102","000000043","IN000202","LEEANN01"\r\n', encoding="cp1252")
    recipe = tmp_path / "recipe.toml"
    result = CliRunner().invoke(cli, ["-r", str(recipe), "ack", str(export)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Ledger(load_recipe(recipe).state_dir / "ledger.sqlite") as ledger:
        confirmed = {r.increment_id: (r.state, r.sage_ref) for r in ledger.rows()}
    assert confirmed == {"000000042": ("confirmed", "ORD000101"),
                         "000000043": ("confirmed", "ORD000102")}


def test_the_demo_recipe_loads_with_sage_300s_defaults() -> None:
    recipe = load_recipe(Path(__file__).resolve().parents[2] / SAGE300.demo_recipe)
    assert recipe.sage.product == "sage300" and recipe.sage.encoding == "cp1252"
    assert recipe.mapping.adjustment_tax_code == "2" and recipe.mapping.carriage_nominal == "FRT"
    assert recipe.ack.type_column is None and recipe.ack.reference_column == "PONUMBER"


def test_credit_notes_the_orders_export_cannot_confirm_raise_no_unconfirmed_alert(
        tmp_path: Path) -> None:
    """`ack` reads the O/E Orders export, which holds no credit note: a sent credit note is
    never "unconfirmed", while an invoice Sage has not confirmed still is."""
    store = store_of(tmp_path, [known_order()], memos=[{}])
    run(tmp_path, store)
    recipe_path = tmp_path / "recipe.toml"
    again = CliRunner().invoke(cli, ["run", str(recipe_path)], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    recipe = load_recipe(recipe_path)
    recipe = replace(recipe, alerts=replace(recipe.alerts, unconfirmed_after_runs=1))
    with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
        (found,) = unconfirmed(recipe, ledger)
    assert found.title.startswith("1 record sent") and "invoice:42@1" in found.detail
    assert "creditmemo" not in found.detail
    export = tmp_path / "Orders.csv"
    export.write_text('"ORDNUMBER","PONUMBER","INVNUMBER"\r\n"ORD000101","000000042","IN1"\r\n',
                      encoding="cp1252")
    acked = CliRunner().invoke(cli, ["-r", str(recipe_path), "ack", str(export)],
                               catch_exceptions=False)
    assert acked.exit_code == 0, acked.output
    with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
        assert unconfirmed(recipe, ledger) == []
        assert {str(r.key): r.state for r in ledger.rows()} == {
            "invoice:42@1": "confirmed", "creditmemo:1@1": "sent"}
