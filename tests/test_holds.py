"""The typed catalogue of hold reasons: every cause's code, params and wording (pinned here once),
its storage in the ledger (and the upgrade of a ledger from before it), and the grouping by cause
in `status --json` and `run --json` after a real pipeline run."""

from __future__ import annotations

import json
import shutil
import sqlite3
import string
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.errors import ExitCode
from sagesync.ledger import MIGRATIONS, BatchPlan, Exported, Ledger, RecordKey
from sagesync.model import holds
from sagesync.model.holds import CATALOGUE, Hold
from sagesync.ops import fixup
from sagesync.pipeline.transform_step import _Heads, _hold_unimportable_credits, _Slice
from sagesync.sage import products
from sagesync.transform.documents import SageDocument, Split
from tests.test_ledger_flows import edit, run
from tests.test_record_lifecycle import _page

D = Decimal
COLLISION_TEXT = (
    "Sage reference '000000001' (SI) is already used by invoice:1@1: Magento gave two documents "
    "the same increment id (magento2#40259). If they come from different stores, give each "
    "store its own prefix ([sage] reference_prefixes) and the next run sends it; otherwise "
    "enter it in Sage by hand and `sagesync hold` it")
UNCERTAIN_TEXT = (
    "batch 3 file B000003-2-audit_trail.csv may have reached Sage (it was renamed into place, "
    "then collected before the ledger recorded it): check Sage for references SI 000000001 "
    "000000002 (2 documents), then `sagesync retry` the ones Sage does not have or `sagesync "
    "resolve` the ones it has")

# (hold, code, params, message): the message is today's wording, written out once.
PINNED: list[tuple[Hold, str, dict[str, Any], str]] = [
    (holds.missing_tax_rate(where="shipping"), "missing_tax_rate", {"where": "shipping"},
     "shipping has tax but no tax rate"),
    (holds.unmapped_tax_rate(where="line 'HE-LED-10'", rate=D("5.00"),
                             known=[D("20"), D("0"), D("17.50")]),
     "unmapped_tax_rate", {"where": "line 'HE-LED-10'", "rate": "5", "known": "0%, 17.5%, 20%"},
     "line 'HE-LED-10': no Sage tax code for a 5% rate (add it to [mapping] tax_codes; known: "
     "0%, 17.5%, 20%)"),
    (holds.no_created_at(), "no_created_at", {}, "no created_at date"),
    (holds.no_exchange_rate(currency="EUR", base="GBP"), "no_exchange_rate",
     {"currency": "EUR", "base": "GBP"},
     'its amounts are in EUR ([sage] currency = "order") but Magento gives no '
     "base_to_order_rate to GBP: Sage would book them as GBP. Export it again, or post base "
     'amounts ([sage] currency = "base")'),
    (holds.unmapped_payment_nominal(kind="gift_card", amount=D("10.00"),
                                    where="extension_attributes.gift_cards_amount"),
     "unmapped_payment_nominal",
     {"kind": "gift_card", "amount": "10.00", "where": "extension_attributes.gift_cards_amount"},
     "gift card paid 10.00 of it (extension_attributes.gift_cards_amount): set [mapping] "
     'payment_nominals = { gift_card = "<nominal>" } to the nominal that carries gift card '
     "balances"),
    (holds.extra_amount_other_currency(where="extension_attributes.cod_fee", currency="base"),
     "extra_amount_other_currency", {"where": "extension_attributes.cod_fee", "currency": "base"},
     "extension_attributes.cod_fee is only given in the base currency: sagesync cannot post it "
     "with the other amounts"),
    (holds.unknown_order_item(sku="MUG-1", item_id=301), "unknown_order_item",
     {"sku": "MUG-1", "item_id": 301},
     "line 'MUG-1' points at order item 301, which is not in the order"),
    (holds.unknown_order_item(sku=None, item_id=7), "unknown_order_item",
     {"sku": "", "item_id": 7}, "line None points at order item 7, which is not in the order"),
    (holds.tax_matches_no_rate(what="shipping", tax=D("1.23"), net=D("5.00")),
     "tax_matches_no_rate", {"what": "shipping", "tax": "1.23", "net": "5.00"},
     "shipping tax 1.23 on 5.00 matches no rate in [mapping] tax_codes"),
    (holds.does_not_balance(column="net", have=D("100.00"), target=D("105.33"),
                            difference=D("5.33"), grand_total=D("126.40"),
                            explanation="Map it."),
     "does_not_balance",
     {"column": "net", "have": "100.00", "target": "105.33", "difference": "5.33",
      "grand_total": "126.40", "explanation": "Map it."},
     "does not balance: the lines' net is 100.00, Magento's document says 105.33 (difference "
     "5.33); grand total 126.40. Map it."),
    (holds.negative_split(split="adjustment fee", nominal="4000", net=D("-2.00"),
                          tax=D("0.00"), negative_amounts=False),
     "negative_split",
     {"split": "adjustment fee", "nominal": "4000", "net": "-2.00", "tax": "0.00",
      "negative_amounts": 0},
     "the adjustment fee split on nominal 4000 is negative (net -2.00, tax 0.00): Sage gets "
     "positive amounts unless [sage] negative_amounts = true"),
    (holds.negative_split(split="goods", nominal="4000", net=D("-2.00"), tax=D("-0.40"),
                          negative_amounts=True),
     "negative_split",
     {"split": "goods", "nominal": "4000", "net": "-2.00", "tax": "-0.40",
      "negative_amounts": 1},
     "the goods split on nominal 4000 is negative (net -2.00, tax -0.40): Sage gets positive "
     "amounts"),
    (holds.order_not_exported(order_id=99), "order_not_exported", {"order_id": 99},
     "its order (entity_id 99) is not in this export; export a window that includes the order"),
    (holds.reference_collision(reference="000000001", transaction_type="SI",
                               owner="invoice:1@1"),
     "reference_collision",
     {"reference": "000000001", "transaction_type": "SI", "owner": "invoice:1@1"},
     COLLISION_TEXT),
    (holds.amount_too_large(column="net", amount=D("100000000.00"),
                            max_amount=D("99999999.99")),
     "amount_too_large", {"column": "net", "amount": "100000000.00",
                          "max_amount": "99999999.99"},
     "net 100000000.00 is more than Sage holds (99999999.99)"),
    (holds.negative_amount(column="tax", amount=D("-0.20"), nominal="4000",
                           recipe_can_allow=True),
     "negative_amount",
     {"column": "tax", "amount": "-0.20", "nominal": "4000", "recipe_can_allow": 1},
     "tax -0.20 on nominal 4000 is negative: Sage gets positive amounts unless [sage] "
     "negative_amounts = true"),
    (holds.negative_amount(column="net", amount=D("-1.00"), nominal="4905",
                           recipe_can_allow=False),
     "negative_amount",
     {"column": "net", "amount": "-1.00", "nominal": "4905", "recipe_can_allow": 0},
     "net -1.00 on nominal 4905 is negative: Sage gets positive amounts"),
    (holds.negative_total(transaction_type="SC", total=D("-3.00"), types=("SI", "SC")),
     "negative_total", {"transaction_type": "SC", "total": "-3.00", "types": "SI/SC"},
     "the SC rows total -3.00: a Sage SI/SC total cannot be negative"),
    (holds.rows_do_not_make_total(rows_total=D("10.00"), total=D("10.01")),
     "rows_do_not_make_total", {"rows_total": "10.00", "total": "10.01"},
     "the rows make 10.00, not the document's total 10.01"),
    (holds.unmapped_item(sku="MH01-XS-Black"), "unmapped_item", {"sku": "MH01-XS-Black"},
     "SKU 'MH01-XS-Black' has no Sage item in [mapping] items_csv (and unmapped_items = "
     '"hold"): add it there, or set unmapped_items = "default" with a default_item'),
    (holds.period_locked(posting_date="2026-10-15", locked_until="2026-10-31"),
     "period_locked", {"posting_date": "2026-10-15", "locked_until": "2026-10-31"},
     "its posting date 2026-10-15 is in Sage's locked period (closed up to 2026-10-31, "
     "[sage] period_locked_until): post it in Sage by hand and `sagesync resolve` it, or set "
     '[sage] locked_period = "redate" to date such documents on the first open day'),
    (holds.unit_price_not_exact(line="'24-MB01'", quantity=D("150"), net=D("10.00"),
                                places=4, price=D("0.0667"), amount=D("10.01")),
     "unit_price_not_exact",
     {"line": "'24-MB01'", "quantity": "150", "net": "10.00", "places": 4,
      "price": "0.0667", "amount": "10.01"},
     "line '24-MB01': Sage computes a line's amount as quantity x unit price, and no price of "
     "4 decimal places makes its net 10.00 from quantity 150 (the nearest, 0.0667, makes "
     "10.01): enter this document in Sage by hand, then `sagesync resolve` it"),
    (holds.no_credit_notes(product="Sage 50 Canada", how="enter it as a sales return"),
     "no_credit_notes", {"product": "Sage 50 Canada", "how": "enter it as a sales return"},
     "Sage 50 Canada cannot import a credit note: enter it as a sales return"),
    (holds.too_many_lines(rows=155, limit=154), "too_many_lines", {"rows": 155, "limit": 154},
     "it needs 155 rows, more than the 154 one Sage document takes: enter it in Sage by hand, "
     "then `sagesync resolve` it"),
    (holds.template_rule_broken(column="Account Reference", problem="is required but empty"),
     "template_rule_broken", {"column": "Account Reference", "problem": "is required but empty"},
     "'Account Reference' is required but empty"),
    (holds.account_not_writable(account_ref="SMITHJ",
                                problem="'Name' is required but empty"),
     "account_not_writable",
     {"account_ref": "SMITHJ", "problem": "'Name' is required but empty"},
     "its new Sage account SMITHJ cannot be written: 'Name' is required but empty"),
    (holds.account_awaiting_approval(account_ref="WHITFI01"), "account_awaiting_approval",
     {"account_ref": "WHITFI01"},
     'account awaiting approval: the new Sage account WHITFI01 waits for a person ([customers] '
     'new_accounts = "review"): `sagesync accounts approve WHITFI01`, or a Sage customer export '
     "that lists the account, releases it"),
    (holds.held_by_person(), "held_by_person", {}, "put on hold by a person"),
    (holds.may_have_reached_sage(batch_id=3, file="B000003-2-audit_trail.csv",
                                 references="SI 000000001 000000002", documents=2),
     "may_have_reached_sage",
     {"batch_id": 3, "file": "B000003-2-audit_trail.csv",
      "references": "SI 000000001 000000002", "documents": 2},
     UNCERTAIN_TEXT),
    (holds.rejected_by_sage(attempts=3, sage_error="Account OSULLIVA is on hold"),
     "rejected_by_sage", {"attempts": 3, "sage_error": "Account OSULLIVA is on hold"},
     "Account OSULLIVA is on hold"),
    (holds.sage_answers_disagree(said="row 2 confirms it as Sage 101", row="row 3",
                                 sage_error="bad account"),
     "sage_answers_disagree",
     {"said": "row 2 confirms it as Sage 101", "row": "row 3", "sage_error": "bad account"},
     "Sage's answers disagree: row 2 confirms it as Sage 101, but row 3 rejects it: bad "
     "account; check Sage, then `sagesync retry` it if Sage does not hold it"),
    (holds.cancelled_needing_attention(changed_at="2020-04-24 16:09:35", magento_state="canceled",
                                       earlier="rejected (x)"),
     "cancelled_needing_attention",
     {"changed_at": "2020-04-24 16:09:35", "magento_state": "canceled", "earlier": "rejected (x)"},
     "cancelled in Magento at 2020-04-24 16:09:35 UTC (state canceled) while it needed a person "
     "(rejected (x)): if Sage holds it, reverse it there; then `sagesync resolve` it"),
    (holds.cancelled_needing_attention(changed_at="", magento_state="3", earlier="x"),
     "cancelled_needing_attention", {"changed_at": "", "magento_state": "3", "earlier": "x"},
     "cancelled in Magento (state 3) while it needed a person (x): if Sage holds it, reverse it "
     "there; then `sagesync resolve` it"),
    (holds.unspecified("something else"), "unspecified", {}, "something else"),
]


@pytest.mark.parametrize(("hold", "code", "params", "message"), PINNED,
                         ids=[f"{p[1]}-{n}" for n, p in enumerate(PINNED)])
def test_each_constructor_gives_its_code_params_and_todays_words(
        hold: Hold, code: str, params: dict[str, Any], message: str) -> None:
    assert (hold.code, dict(hold.params), hold.message, str(hold)) == \
        (code, params, message, message)
    assert set(hold.params) == set(CATALOGUE[code].params)
    assert hold.title == CATALOGUE[code].title
    if CATALOGUE[code].recognisable:  # the words read back as the same hold
        assert holds.recognise(message) == hold


def test_every_cause_of_the_catalogue_is_pinned_and_documented() -> None:
    assert {p[1] for p in PINNED} == set(CATALOGUE)
    table = holds.__doc__ or ""
    for cause in CATALOGUE.values():
        assert f"| {cause.code} | {cause.title} | {' '.join(cause.params)} |".replace(
            "|  |", "| |") in table


def test_a_hold_is_read_only_and_its_exception_says_its_message() -> None:
    hold = holds.order_not_exported(order_id=5)
    with pytest.raises(TypeError):
        hold.params["order_id"] = 6  # type: ignore[index]
    error = holds.Held(hold)
    assert str(error) == hold.message and error.hold is hold
    assert holds.Held("plain words").hold == holds.unspecified("plain words")
    assert Hold.stored(hold.code, hold.params_json(), hold.message) == hold


def test_words_no_cause_has_are_unspecified() -> None:
    assert holds.recognise("Account OSULLIVA is on hold") == \
        holds.unspecified("Account OSULLIVA is on hold")
    assert holds.recognise("line 'X' points at order item abc, which is not in the order").code \
        == "unspecified"  # an item id must be a number


# Realistic values for every parameter (codes and names without spaces, amounts as Decimals).
_name = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12)
_words = st.text(string.ascii_letters + string.digits + " .'-", min_size=1, max_size=40)
_money = st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False,
                     allow_infinity=False)
_rate = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
_int = st.integers(min_value=0, max_value=2**62)
CONSTRUCTORS: list[tuple[Callable[..., Hold], dict[str, st.SearchStrategy[Any]]]] = [
    (holds.missing_tax_rate, {"where": _words}),
    (holds.unmapped_tax_rate, {"where": _words, "rate": _rate,
                               "known": st.lists(_rate, max_size=4)}),
    (holds.no_exchange_rate, {"currency": _name, "base": _name}),
    (holds.unmapped_payment_nominal, {"kind": st.sampled_from(
        ["gift_card", "store_credit", "reward_points"]), "amount": _money, "where": _name}),
    (holds.extra_amount_other_currency, {"where": _name,
                                         "currency": st.sampled_from(["order", "base"])}),
    (holds.unknown_order_item, {"sku": st.none() | _words, "item_id": _int}),
    (holds.tax_matches_no_rate, {"what": _name, "tax": _money, "net": _money}),
    (holds.does_not_balance, {"column": st.sampled_from(["net", "tax"]), "have": _money,
                              "target": _money, "difference": _money, "grand_total": _money,
                              "explanation": _words}),
    (holds.negative_split, {"split": _words, "nominal": _name, "net": _money, "tax": _money,
                            "negative_amounts": st.booleans()}),
    (holds.unit_price_not_exact, {"line": _words, "quantity": _rate, "net": _money,
                                  "places": st.sampled_from([2, 3, 4]), "price": _money,
                                  "amount": _money}),
    (holds.order_not_exported, {"order_id": _int}),
    (holds.reference_collision, {"reference": _words, "transaction_type": _name,
                                 "owner": _name}),
    (holds.amount_too_large, {"column": _name, "amount": _money, "max_amount": _money}),
    (holds.negative_amount, {"column": _name, "amount": _money, "nominal": _name,
                             "recipe_can_allow": st.booleans()}),
    (holds.negative_total, {"transaction_type": _name, "total": _money,
                            "types": st.lists(_name, min_size=1, max_size=3)}),
    (holds.rows_do_not_make_total, {"rows_total": _money, "total": _money}),
    (holds.template_rule_broken, {"column": _name, "problem": _words}),
    (holds.account_not_writable, {"account_ref": _name, "problem": _words}),
    (holds.may_have_reached_sage, {"batch_id": _int, "file": _name, "references": _words,
                                   "documents": _int}),
    (holds.sage_answers_disagree, {"said": _name, "row": _name, "sage_error": _words}),
    (holds.cancelled_needing_attention, {"changed_at": st.just("") | _name,
                                         "magento_state": _name, "earlier": _words}),
]


@settings(max_examples=300)
@given(st.data())
def test_the_words_of_any_hold_read_back_as_that_hold(data: st.DataObject) -> None:
    make, strategies = data.draw(st.sampled_from(CONSTRUCTORS))
    hold = make(**data.draw(st.fixed_dictionaries(strategies)))
    assert holds.recognise(hold.message) == hold
    for name in ("amount", "tax", "net", "total", "rows_total", "have", "target"):
        if name in hold.params:  # money is exact text, never a float
            assert isinstance(hold.params[name], str)
            assert Decimal(str(hold.params[name])) == Decimal(str(hold.params[name])).quantize(
                Decimal("0.01"))


# The ledger -------------------------------------------------------------------------------
KEY = RecordKey("invoice", 1, 1)
KEY2 = RecordKey("invoice", 2, 1)


def _ledger(path: Path) -> Ledger:
    ledger = Ledger(path, "run-1")
    ledger.register_exported([Exported(k, f"00000000{k.entity_id}", k.entity_id,
                                       f"00000000{k.entity_id}", "h1") for k in (KEY, KEY2)],
                             "ckpt")
    return ledger


def _columns(ledger: Ledger, key: RecordKey) -> tuple[str | None, str | None, str | None]:
    row = ledger.db.execute("SELECT hold_code, hold_params, last_error FROM records WHERE "
                            "entity_type=? AND entity_id=? AND store_id=?",
                            (key.entity_type, key.entity_id, key.store_id)).fetchone()
    return row[0], row[1], row[2]


def test_the_ledger_keeps_code_and_params_beside_the_reason(tmp_path: Path) -> None:
    hold = holds.order_not_exported(order_id=7)
    with _ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.mark_transformed([], [(KEY, "h1", hold), (KEY2, "h1", "some old words")])
        assert _columns(ledger, KEY) == ("order_not_exported", '{"order_id": 7}', hold.message)
        assert ledger.causes() == [(KEY, hold), (KEY2, holds.unspecified("some old words"))]
        assert ledger.causes_of([KEY2]) == {KEY2: holds.unspecified("some old words")}
        # re-validated after a change in Magento: the reason goes, and its cause with it
        ledger.register_exported([Exported(KEY, "000000001", 1, "000000001", "h2")], "ckpt2")
        assert _columns(ledger, KEY) == (None, None, None)
        ledger.mark_transformed([(KEY2, "h1", "SI:000000002")], [])
        assert _columns(ledger, KEY2) == (None, None, None)


def test_the_same_words_with_a_cause_fill_it_in_without_news(tmp_path: Path) -> None:
    """A row held before the catalogue keeps its words; the next transform adds the cause
    but writes no new `held` event (nothing changed for a person)."""
    hold = holds.order_not_exported(order_id=7)
    with _ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.mark_transformed([], [(KEY, "h1", hold.message)])
        assert _columns(ledger, KEY)[0] == "unspecified"
        ledger.mark_transformed([], [(KEY, "h1", hold)])
        assert _columns(ledger, KEY)[:2] == ("order_not_exported", '{"order_id": 7}')
        assert [e for _, e, _ in ledger.events(KEY)].count("held") == 1


def test_a_persons_hold_and_sages_answers_have_their_causes(tmp_path: Path) -> None:
    with _ledger(tmp_path / "ledger.sqlite") as ledger:
        assert fixup.hold(ledger, [str(KEY)]).changed
        assert _columns(ledger, KEY) == ("held_by_person", "{}", "put on hold by a person")
        assert ledger.causes() == [(KEY, holds.held_by_person())]
        assert fixup.release(ledger, [str(KEY)]).changed
        assert _columns(ledger, KEY)[0] is None
        ledger.mark_transformed([(KEY, "h1", "SI:000000001"), (KEY2, "h1", "SI:000000002")], [])
        batch = ledger.begin_batch()
        file = str(tmp_path / "B000001-2-audit_trail.csv")
        ledger.set_plan(batch, BatchPlan([file], [(KEY, "h1", file), (KEY2, "h1", file)], []))
        ledger.finish_batch(batch, set(), uncertain={file})
        uncertain = holds.may_have_reached_sage(batch_id=batch, file="B000001-2-audit_trail.csv",
                                                references="SI 000000001 000000002",
                                                documents=2)
        assert ledger.causes() == [(KEY, uncertain), (KEY2, uncertain)]
        assert _columns(ledger, KEY) == (uncertain.code, uncertain.params_json(),
                                         uncertain.message)
        ledger.set_state(KEY, ("needs_attention",), "sent", "test", "test")
        assert ledger.reject(KEY, "Account on hold", 1) == "needs_attention"
        assert ledger.causes_of([KEY]) == {KEY: holds.rejected_by_sage(
            attempts=1, sage_error="Account on hold")}
        disagree = holds.sage_answers_disagree(said="row 2 confirms it as Sage 9", row="row 3",
                                               sage_error="x")
        ledger.set_state(KEY2, ("needs_attention",), "sent", "test", "test")
        assert ledger.dispute(KEY2, disagree.message)  # ack gives text: its words tell
        assert ledger.causes_of([KEY2]) == {KEY2: disagree}
        assert _columns(ledger, KEY2)[:2] == (disagree.code, disagree.params_json())


_CATALOGUE = next(n for n, script in enumerate(MIGRATIONS) if "hold_code" in script)


def _old_ledger(path: Path) -> None:
    """A ledger as the sagesync before the catalogue left it: every migration before the one
    adding the causes, with held and needs-attention rows whose reasons are text only."""
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:_CATALOGUE], start=1):
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {number}")
    rows = [(1, "held", "validation", holds.order_not_exported(order_id=3).message),
            (2, "held", "person", "put on hold by a person"),
            (3, "needs_attention", None, UNCERTAIN_TEXT),
            (4, "held", "validation", "words from a newer or older sagesync")]
    db.executemany("INSERT INTO records (entity_type, entity_id, store_id, content_hash, state, "
                   "held_by, last_error, created_at, updated_at) VALUES ('invoice', ?, 1, 'h', "
                   "?, ?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')", rows)
    db.close()


def test_a_ledger_from_before_the_catalogue_upgrades_and_groups_by_cause(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _old_ledger(path)
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    with Ledger.read_only(copy) as ledger:  # a dry run reads it without changing it
        assert ledger.causes()[0][1].code == "order_not_exported"
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == _CATALOGUE
    with Ledger(path) as ledger:
        assert ledger.schema_version == len(MIGRATIONS)
        columns = {r[1] for r in ledger.db.execute("PRAGMA table_info(records)")}
        assert {"hold_code", "hold_params"} <= columns
        assert [(k.entity_id, h) for k, h in ledger.causes()] == [
            (1, holds.order_not_exported(order_id=3)),
            (2, holds.held_by_person()),
            (3, holds.may_have_reached_sage(batch_id=3, file="B000003-2-audit_trail.csv",
                                            references="SI 000000001 000000002", documents=2)),
            (4, holds.unspecified("words from a newer or older sagesync"))]


# A real pipeline run --------------------------------------------------------------------------
def _three_causes(demo: Path) -> None:
    """The demo store with 5 % VAT unmapped (invoices 4, 5, 8 and credit memo 2), invoice 3
    pointing at an order the export lacks, and invoice 2 sold in store 2 with store 1's
    increment id 000000001 (magento2#40259)."""
    edit(demo, '"5" = "T5", ', "")
    page, data = _page(demo, "invoices")
    data["items"][1]["increment_id"] = data["items"][0]["increment_id"]
    data["items"][1]["store_id"] = 2
    data["items"][2]["order_id"] = 99
    page.write_text(json.dumps(data), encoding="utf-8")


EXPECTED = {"unmapped_tax_rate": 4, "order_not_exported": 1, "reference_collision": 1}


def _groups(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["code"]: g for g in report["holds_by_cause"]}


def test_run_json_and_status_json_group_held_records_by_cause(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    _three_causes(demo_copy)
    state, out = tmp_path / "s", tmp_path / "out"
    result = run(run_cli, demo_copy, state, out, "--json")
    assert result.exit_code == ExitCode.HELD, result.output
    report = json.loads(result.stdout)
    assert report["exit_code"] == 1 and report["held"] == 6
    assert [s["step"] for s in report["steps"]] == ["export-orders", "transform", "import-sage"]
    assert report["steps"][2]["delivered"] == 4 and report["steps"][1]["held"] == 6
    assert Path(report["manifest"]).is_file()
    groups = _groups(report)
    assert {code: g["count"] for code, g in groups.items()} == EXPECTED
    assert report["holds_by_cause"][0]["code"] == "unmapped_tax_rate"  # the largest
    assert groups["order_not_exported"]["records"] == [
        {"key": "invoice:3@1", "message": holds.order_not_exported(order_id=99).message,
         "params": {"order_id": 99}}]
    assert groups["reference_collision"]["records"] == [
        {"key": "invoice:2@2", "message": COLLISION_TEXT,
         "params": {"reference": "000000001", "transaction_type": "SI", "owner": "invoice:1@1"}}]
    taxed = groups["unmapped_tax_rate"]
    assert taxed["title"] == "no Sage tax code for a rate"
    assert {r["key"] for r in taxed["records"]} == {"invoice:4@1", "invoice:5@1", "invoice:8@1",
                                                    "creditmemo:2@1"}
    assert {(r["params"]["rate"], r["params"]["known"]) for r in taxed["records"]} == \
        {("5", "0%, 20%")}

    cli = ("--state-dir", str(state), "-r", str(demo_copy))
    status = json.loads(run_cli(*cli, "status", "--json").stdout)
    by_code = {g["code"]: g for g in status["holds_by_cause"]}
    assert {c: g["count"] for c, g in by_code.items()} == EXPECTED
    assert by_code["order_not_exported"]["examples"] == ["invoice:3@1"]
    recipe_path = demo_copy.resolve()
    assert by_code["reference_collision"] == {
        "code": "reference_collision", "title": "Sage reference used by another document",
        "count": 1, "examples": ["invoice:2@2"],
        "fix": "two documents share a Sage reference: give each store its own [sage] "
               "reference_prefixes (the next run sends it), or enter it by hand and hold it",
        "commands": [f"sagesync -r {recipe_path} trace invoice:2@2",
                     f"sagesync -r {recipe_path} hold invoice:2@2"]}
    assert len(by_code["unmapped_tax_rate"]["examples"]) == 3
    table = run_cli(*cli, "status").stdout
    assert all(code in table for code in EXPECTED)  # the table, too (codes never wrap)

    assert run_cli(*cli, "hold", "invoice:3@1").exit_code == 0  # a person takes it over
    status = json.loads(run_cli(*cli, "status", "--json").stdout)
    assert {g["code"]: g["count"] for g in status["holds_by_cause"]} == {
        "unmapped_tax_rate": 4, "held_by_person": 1, "reference_collision": 1}
    again = _groups(json.loads(run(run_cli, demo_copy, state, out, "--json").stdout))
    assert again["held_by_person"]["records"] == [
        {"key": "invoice:3@1", "message": "put on hold by a person", "params": {}}]


def test_a_dry_run_reports_its_causes_and_plain_run_still_prints_the_manifest(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    _three_causes(demo_copy)
    state, out = tmp_path / "s", tmp_path / "out"
    dry = json.loads(run(run_cli, demo_copy, state, out, "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True
    assert {g["code"]: g["count"] for g in dry["holds_by_cause"]} == EXPECTED
    plain = run(run_cli, demo_copy, state, out)
    assert plain.exit_code == ExitCode.HELD
    [line] = plain.stdout.splitlines()  # the pipe contract: one line, the manifest's path
    assert line.endswith("manifest.json") and Path(line).is_file()


def test_without_credit_notes_a_credit_memo_and_a_payment_posted_as_one_are_held(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A product with no credit note (Sage 50 Canada's .IMP) holds a credit memo with its
    advice, and an invoice whose gift card would post as a credit note of its own (amounts
    positive); an invoice with nothing taken off it goes on."""
    uk = products.get("sage50_uk")
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", replace(uk, import_format=replace(
        uk.capabilities, credit_type="", credit_note_advice="enter it as a sales return")))

    def document(kind: str, number: int, *splits: Split) -> SageDocument:
        return SageDocument(kind, number, 1, number, "1", str(number), "SI", "WEBSALES", None,
                            str(number), "", "", "GBP", 1200, "h", splits=list(splits))

    goods = Split("goods", "4000", "T1", 1500, 300)
    gift = Split("gift_card", "9000", "T9", 600, 0, transaction_type="SC", reference="2-GIFT")
    docs = [document("invoice", 1, goods), document("invoice", 2, goods, gift),
            document("creditmemo", 3, goods)]
    _hold_unimportable_credits(_Slice("invoice", docs, [0, 1, 2], _Heads("invoice", None),
                                      pa.table({"entity_id": pa.array([], pa.int64())})),
                               "sage50_uk")
    assert [d.hold.code if d.hold else None for d in docs] == \
        [None, "no_credit_notes", "no_credit_notes"]
    assert docs[1].hold_reason == (
        "Sage 50 Accounts UK/IE cannot import a credit note: the gift card 6.00 (2-GIFT) taken "
        "off this invoice would be posted as one; enter the invoice in Sage by hand, with what "
        "was taken off as its payment, or set [sage] negative_amounts = true to post it as a "
        "negative line of the invoice")
    assert docs[2].hold_reason == \
        "Sage 50 Accounts UK/IE cannot import a credit note: enter it as a sales return"
