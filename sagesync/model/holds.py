"""The typed catalogue of hold reasons: why a record waits for a person, as data.

A reason used to be free text, so `status` could not count records by cause and tests had to
match wording. A :class:`Hold` keeps the text a person reads (`message`, worded exactly as
before) beside a stable `code` and the `params` it was built from. The ledger stores all three;
`status` and `run --json` group by code; tests assert codes and params. Build a hold with the
constructor of its cause (``holds.unmapped_tax_rate(where=..., rate=..., known=...)``), never
by hand, so one template per cause words every message.

Codes are stable: a code is never renamed or reused (new causes get new codes). Amounts are
text, exactly as the message shows them (money stays exact; no float anywhere).

| code | title | params |
|---|---|---|
| missing_tax_rate | tax but no tax rate | where |
| unmapped_tax_rate | no Sage tax code for a rate | where rate known |
| no_created_at | no created_at date | |
| no_exchange_rate | no exchange rate for foreign amounts | currency base |
| unmapped_payment_nominal | payment nominal not mapped | kind amount where |
| extra_amount_other_currency | extra amount only in the other currency | where currency |
| unknown_order_item | line pointing at an unknown order item | sku item_id |
| tax_matches_no_rate | shipping or extra tax matching no rate | what tax net |
| does_not_balance | does not balance | column have target difference grand_total explanation |
| negative_split | negative split | split nominal net tax negative_amounts |
| unmapped_item | SKU without a Sage item | sku |
| period_locked | dated in Sage's locked period | posting_date locked_until |
| unit_price_not_exact | no unit price makes the line | line quantity net places price amount |
| no_credit_notes | the product imports no credit notes | product how |
| order_not_exported | order not in the export | order_id |
| reference_collision | Sage reference used by another document | reference transaction_type owner |
| amount_too_large | amount too large for Sage | column amount max_amount |
| negative_amount | negative amount | column amount nominal recipe_can_allow |
| negative_total | negative document total | transaction_type total types |
| rows_do_not_make_total | rows do not make the total | rows_total total |
| too_many_lines | too many lines for one Sage document | rows limit |
| template_rule_broken | a Sage template rule broken | column problem |
| account_not_writable | new Sage account cannot be written | account_ref problem |
| account_awaiting_approval | account awaiting approval | account_ref |
| held_by_person | put on hold by a person | |
| may_have_reached_sage | file may have reached Sage | batch_id file references documents |
| rejected_by_sage | rejected by Sage | attempts sage_error |
| sage_answers_disagree | Sage's answers disagree | said row sage_error |
| cancelled_needing_attention | cancelled, needing a person | changed_at magento_state earlier |
| unspecified | a reason without a code | |

`unspecified` is what a plain-text reason becomes (callers not yet converted).
:func:`recognise` reads a code back from the text of a reason written before the catalogue
(ledgers from before the migration, and documents whose builder still gives text only).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from string import Formatter
from types import MappingProxyType

Param = str | int
Amount = Decimal | str


@dataclass(frozen=True)
class Hold:
    """Why a record is held: a stable code, its parameters, and the text a person reads."""

    code: str
    params: Mapping[str, Param]
    message: str

    def __post_init__(self) -> None:  # a read-only copy: a Hold never changes once built
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __str__(self) -> str:
        return self.message

    @property
    def title(self) -> str:
        return title_of(self.code)

    def params_json(self) -> str:
        """The params as the ledger stores them (sorted keys, so equal holds store equally)."""
        return json.dumps(dict(self.params), sort_keys=True, ensure_ascii=False)

    @classmethod
    def stored(cls, code: str, params_json: str | None, message: str) -> Hold:
        """A hold read back from the ledger's columns."""
        return cls(code, json.loads(params_json) if params_json else {}, message)


class Held(Exception):
    """An exception that carries a Hold (`str()` is its message); a step's own hold
    exception (transform.documents.HoldDocument) can derive from it. Text is accepted too,
    as an `unspecified` hold."""

    def __init__(self, hold: Hold | str) -> None:
        self.hold = hold if isinstance(hold, Hold) else unspecified(hold)
        super().__init__(self.hold.message)


@dataclass(frozen=True)
class Template:
    """One wording of a cause: `{name}` per parameter (`{name!r}` for a quoted one);
    `fixed` are the parameter values this wording stands for (an optional clause)."""

    text: str
    fixed: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class Cause:
    """A catalogue entry: code, a short title for grouping, parameter names, wordings."""

    code: str
    title: str
    params: tuple[str, ...]
    templates: tuple[Template, ...]
    ints: frozenset[str] = frozenset()  # parameters that are integers
    recognisable: bool = True  # False when the message is free text (Sage's own error)


def _cause(code: str, title: str, params: str, *templates: str | Template,
           ints: str = "", recognisable: bool = True) -> Cause:
    return Cause(code, title, tuple(params.split()),
                 tuple(t if isinstance(t, Template) else Template(t) for t in templates),
                 frozenset(ints.split()), recognisable)


_NEGATIVE_OK = " unless [sage] negative_amounts = true"
_CANCELLED_TAIL = (" (state {magento_state}) while it needed a person ({earlier}): if Sage "
                   "holds it, reverse it there; then `sagesync resolve` it")

CATALOGUE: dict[str, Cause] = {c.code: c for c in (
    # transform.documents: a document sagesync cannot turn into Sage postings
    _cause("missing_tax_rate", "tax but no tax rate", "where",
           "{where} has tax but no tax rate"),
    _cause("unmapped_tax_rate", "no Sage tax code for a rate", "where rate known",
           "{where}: no Sage tax code for a {rate}% rate (add it to [mapping] tax_codes; "
           "known: {known})"),
    _cause("no_created_at", "no created_at date", "", "no created_at date"),
    _cause("no_exchange_rate", "no exchange rate for foreign amounts", "currency base",
           'its amounts are in {currency} ([sage] currency = "order") but Magento gives no '
           "base_to_order_rate to {base}: Sage would book them as {base}. Export it again, or "
           'post base amounts ([sage] currency = "base")'),
    _cause("unmapped_payment_nominal", "payment nominal not mapped", "kind amount where",
           "{label} paid {amount} of it ({where}): set [mapping] payment_nominals = "
           '{{ {kind} = "<nominal>" }} to the nominal that carries {label} balances'),
    _cause("extra_amount_other_currency", "extra amount only in the other currency",
           "where currency",
           "{where} is only given in the {currency} currency: sagesync cannot post it with the "
           "other amounts"),
    _cause("unknown_order_item", "line pointing at an unknown order item", "sku item_id",
           "line {sku!r} points at order item {item_id}, which is not in the order",
           ints="item_id"),
    _cause("tax_matches_no_rate", "shipping or extra tax matching no rate", "what tax net",
           "{what} tax {tax} on {net} matches no rate in [mapping] tax_codes"),
    _cause("does_not_balance", "does not balance",
           "column have target difference grand_total explanation",
           "does not balance: the lines' {column} is {have}, Magento's document says {target} "
           "(difference {difference}); grand total {grand_total}. {explanation}"),
    _cause("negative_split", "negative split", "split nominal net tax negative_amounts",
           Template("the {split} split on nominal {nominal} is negative (net {net}, tax {tax}): "
                    "Sage gets positive amounts" + _NEGATIVE_OK, {"negative_amounts": 0}),
           Template("the {split} split on nominal {nominal} is negative (net {net}, tax {tax}): "
                    "Sage gets positive amounts", {"negative_amounts": 1}),
           ints="negative_amounts"),
    _cause("unmapped_item", "SKU without a Sage item", "sku",
           "SKU {sku!r} has no Sage item in [mapping] items_csv (and unmapped_items = "
           '"hold"): add it there, or set unmapped_items = "default" with a default_item'),
    _cause("unit_price_not_exact", "no unit price makes the line",
           "line quantity net places price amount",
           "line {line}: Sage computes a line's amount as quantity x unit price, and no price "
           "of {places} decimal places makes its net {net} from quantity {quantity} (the "
           "nearest, {price}, makes {amount}): enter this document in Sage by hand, then "
           "`sagesync resolve` it", ints="places"),
    _cause("period_locked", "dated in Sage's locked period", "posting_date locked_until",
           "its posting date {posting_date} is in Sage's locked period (closed up to "
           "{locked_until}, [sage] period_locked_until): post it in Sage by hand and "
           '`sagesync resolve` it, or set [sage] locked_period = "redate" to date such '
           "documents on the first open day"),
    # pipeline.transform_step
    _cause("no_credit_notes", "the product imports no credit notes", "product how",
           "{product} cannot import a credit note: {how}"),
    _cause("order_not_exported", "order not in the export", "order_id",
           "its order (entity_id {order_id}) is not in this export; export a window that "
           "includes the order", ints="order_id"),
    _cause("reference_collision", "Sage reference used by another document",
           "reference transaction_type owner",
           "Sage reference {reference!r} ({transaction_type}) is already used by {owner}: "
           "Magento gave two documents the same increment id (magento2#40259). If they come "
           "from different stores, give each store its own prefix ([sage] reference_prefixes) "
           "and the next run sends it; otherwise enter it in Sage by hand and `sagesync hold` "
           "it"),
    # pipeline.import_step: rows Sage would refuse or misbook
    _cause("amount_too_large", "amount too large for Sage", "column amount max_amount",
           "{column} {amount} is more than Sage holds ({max_amount})"),
    _cause("negative_amount", "negative amount", "column amount nominal recipe_can_allow",
           Template("{column} {amount} on nominal {nominal} is negative: Sage gets positive "
                    "amounts" + _NEGATIVE_OK, {"recipe_can_allow": 1}),
           Template("{column} {amount} on nominal {nominal} is negative: Sage gets positive "
                    "amounts", {"recipe_can_allow": 0}),
           ints="recipe_can_allow"),
    _cause("negative_total", "negative document total", "transaction_type total types",
           "the {transaction_type} rows total {total}: a Sage {types} total cannot be negative"),
    _cause("rows_do_not_make_total", "rows do not make the total", "rows_total total",
           "the rows make {rows_total}, not the document's total {total}"),
    _cause("account_not_writable", "new Sage account cannot be written", "account_ref problem",
           "its new Sage account {account_ref} cannot be written: {problem}"),
    _cause("account_awaiting_approval", "account awaiting approval", "account_ref",
           "account awaiting approval: the new Sage account {account_ref} waits for a person "
           "([customers] new_accounts = \"review\"): `sagesync accounts approve "
           "{account_ref}`, or a Sage customer export that lists the account, releases it"),
    _cause("too_many_lines", "too many lines for one Sage document", "rows limit",
           "it needs {rows} rows, more than the {limit} one Sage document takes: enter it "
           "in Sage by hand, then `sagesync resolve` it", ints="rows limit"),
    _cause("template_rule_broken", "a Sage template rule broken", "column problem",
           "'{column}' {problem}"),
    # ledger and ops: a person's hold, and what needs a person after delivery
    _cause("held_by_person", "put on hold by a person", "", "put on hold by a person"),
    _cause("may_have_reached_sage", "file may have reached Sage",
           "batch_id file references documents",
           "batch {batch_id} file {file} may have reached Sage (it was renamed into place, then "
           "collected before the ledger recorded it): check Sage for references {references} "
           "({documents} documents), then `sagesync retry` the ones Sage does not have or "
           "`sagesync resolve` the ones it has", ints="batch_id documents"),
    _cause("rejected_by_sage", "rejected by Sage", "attempts sage_error", "{sage_error}",
           ints="attempts", recognisable=False),
    _cause("sage_answers_disagree", "Sage's answers disagree", "said row sage_error",
           "Sage's answers disagree: {said}, but {row} rejects it: {sage_error}; check Sage, "
           "then `sagesync retry` it if Sage does not hold it"),
    _cause("cancelled_needing_attention", "cancelled, needing a person",
           "changed_at magento_state earlier",
           Template("cancelled in Magento" + _CANCELLED_TAIL, {"changed_at": ""}),
           Template("cancelled in Magento at {changed_at} UTC" + _CANCELLED_TAIL)),
    _cause("unspecified", "a reason without a code", "", "{message}", recognisable=False),
)}
UNSPECIFIED = "unspecified"


def title_of(code: str) -> str:
    """The grouping title of a code; an unknown one (from a newer sagesync) shows as itself."""
    cause = CATALOGUE.get(code)
    return cause.title if cause else code


def _fields(text: str) -> list[tuple[str, str | None, str]]:
    """(literal text, field name or None, conversion) of a template, in order."""
    return [(literal, name, conversion or "")
            for literal, name, _spec, conversion in Formatter().parse(text)]


def _build(code: str, shown: Mapping[str, object] | None = None, **values: Param) -> Hold:
    """The hold of a cause from its parameters; `shown` are values the message shows in
    their place or beside them (a label derived from a parameter)."""
    cause = CATALOGUE[code]
    for template in cause.templates:
        if all(values.get(k) == v for k, v in template.fixed.items()):
            message = template.text.format(**{**values, **(shown or {})})
            return Hold(code, {k: values[k] for k in cause.params}, message)
    raise ValueError(f"no wording of {code} for {values}")  # a bug in a constructor


def _amount(value: Amount) -> str:
    return str(value)


def _rate(value: Decimal | str) -> str:
    """A rate as the recipe writes it (20, 17.5): no exponent, no trailing zeros."""
    return f"{value.normalize():f}" if isinstance(value, Decimal) else value


# Constructors, one per cause (transform.documents) ----------------------------------------
def missing_tax_rate(*, where: str) -> Hold:
    return _build("missing_tax_rate", where=where)


def unmapped_tax_rate(*, where: str, rate: Decimal | str,
                      known: Iterable[Decimal] | str) -> Hold:
    """`known` is the recipe's rates (listed sorted, as `20%`) or that list already written."""
    shown = known if isinstance(known, str) else \
        ", ".join(f"{_rate(r)}%" for r in sorted(known))
    return _build("unmapped_tax_rate", where=where, rate=_rate(rate), known=shown)


def no_created_at() -> Hold:
    return _build("no_created_at")


def no_exchange_rate(*, currency: str, base: str) -> Hold:
    return _build("no_exchange_rate", currency=currency, base=base)


def unmapped_payment_nominal(*, kind: str, amount: Amount, where: str) -> Hold:
    """`kind` as in [mapping] payment_nominals: gift_card, store_credit, reward_points."""
    return _build("unmapped_payment_nominal", {"label": kind.replace("_", " ")}, kind=kind,
                  amount=_amount(amount), where=where)


def extra_amount_other_currency(*, where: str, currency: str) -> Hold:
    """`currency` is the one Magento gave the amount in: "order" or "base"."""
    return _build("extra_amount_other_currency", where=where, currency=currency)


def unknown_order_item(*, sku: str | None, item_id: int) -> Hold:
    """A line without a SKU is shown as None, as it always was; its `sku` param is empty."""
    return _build("unknown_order_item", {"sku": sku}, sku=sku or "", item_id=item_id)


def tax_matches_no_rate(*, what: str, tax: Amount, net: Amount) -> Hold:
    """`what` is "shipping" or where an extra amount was found."""
    return _build("tax_matches_no_rate", what=what, tax=_amount(tax), net=_amount(net))


def does_not_balance(*, column: str, have: Amount, target: Amount, difference: Amount,
                     grand_total: Amount, explanation: str) -> Hold:
    """`column` is "tax" or "net"; `explanation` says what Magento sent outside the posted
    fields and how to map it."""
    return _build("does_not_balance", column=column, have=_amount(have),
                  target=_amount(target), difference=_amount(difference),
                  grand_total=_amount(grand_total), explanation=explanation)


def negative_split(*, split: str, nominal: str, net: Amount, tax: Amount,
                   negative_amounts: bool) -> Hold:
    """`split` is the purpose as people read it ("adjustment fee"); `negative_amounts` is the
    recipe's [sage] setting (when off, the message says it exists)."""
    return _build("negative_split", split=split, nominal=nominal, net=_amount(net),
                  tax=_amount(tax), negative_amounts=int(negative_amounts))


def unit_price_not_exact(*, line: str, quantity: Decimal, net: Amount, places: int,
                         price: Decimal, amount: Amount) -> Hold:
    """`line` names it as people read it ('24-MB01', or shipping)."""
    return _build("unit_price_not_exact", line=line, quantity=_rate(quantity),
                  net=_amount(net), places=places, price=_amount(price), amount=_amount(amount))


# (pipeline.transform_step) ----------------------------------------------------------------
def unmapped_item(*, sku: str | None) -> Hold:
    return _build("unmapped_item", sku=sku or "")


def period_locked(*, posting_date: str, locked_until: str) -> Hold:
    return _build("period_locked", posting_date=posting_date, locked_until=locked_until)


def no_credit_notes(*, product: str, how: str) -> Hold:
    """`how` says how the bookkeeper enters it in that product instead."""
    return _build("no_credit_notes", product=product, how=how)


def too_many_lines(*, rows: int, limit: int) -> Hold:
    return _build("too_many_lines", rows=rows, limit=limit)


def order_not_exported(*, order_id: int) -> Hold:
    return _build("order_not_exported", order_id=order_id)


def reference_collision(*, reference: str, transaction_type: str, owner: str) -> Hold:
    """`owner` is the record key that claimed the reference first."""
    return _build("reference_collision", reference=reference,
                  transaction_type=transaction_type, owner=owner)


# (pipeline.import_step) -------------------------------------------------------------------
def amount_too_large(*, column: str, amount: Amount, max_amount: Amount) -> Hold:
    return _build("amount_too_large", column=column, amount=_amount(amount),
                  max_amount=_amount(max_amount))


def negative_amount(*, column: str, amount: Amount, nominal: str,
                    recipe_can_allow: bool) -> Hold:
    """`recipe_can_allow`: the product takes negatives but the recipe does not allow them."""
    return _build("negative_amount", column=column, amount=_amount(amount), nominal=nominal,
                  recipe_can_allow=int(recipe_can_allow))


def negative_total(*, transaction_type: str, total: Amount, types: Sequence[str] | str) -> Hold:
    """`types` are the product's transaction types (SI, SC), shown as SI/SC."""
    return _build("negative_total", transaction_type=transaction_type, total=_amount(total),
                  types=types if isinstance(types, str) else "/".join(types))


def rows_do_not_make_total(*, rows_total: Amount, total: Amount) -> Hold:
    return _build("rows_do_not_make_total", rows_total=_amount(rows_total),
                  total=_amount(total))


def template_rule_broken(*, column: str, problem: str) -> Hold:
    """A value breaks a rule of the product's template (render.RowRejected)."""
    return _build("template_rule_broken", column=column, problem=problem)


def account_not_writable(*, account_ref: str, problem: str) -> Hold:
    """The customer record of a new account breaks a template rule; its documents wait."""
    return _build("account_not_writable", account_ref=account_ref, problem=problem)


def account_awaiting_approval(*, account_ref: str) -> Hold:
    """A new web customer's account, under `[customers] new_accounts = "review"`: its
    documents wait until the account is approved."""
    return _build("account_awaiting_approval", account_ref=account_ref)


# (ledger and ops) -------------------------------------------------------------------------
def held_by_person() -> Hold:
    return _build("held_by_person")


def may_have_reached_sage(*, batch_id: int, file: str, references: str, documents: int) -> Hold:
    """`file` is the file's name; `references` the Sage references to look for, written."""
    return _build("may_have_reached_sage", batch_id=batch_id, file=file, references=references,
                  documents=documents)


def rejected_by_sage(*, attempts: int, sage_error: str) -> Hold:
    """The message is Sage's own error text, as the ack file gave it."""
    return _build("rejected_by_sage", attempts=attempts, sage_error=sage_error)


def sage_answers_disagree(*, said: str, row: str, sage_error: str) -> Hold:
    """`said` is what the confirming answer said, `row` the rejecting row's label."""
    return _build("sage_answers_disagree", said=said, row=row, sage_error=sage_error)


def cancelled_needing_attention(*, changed_at: str, magento_state: str, earlier: str) -> Hold:
    """`changed_at` (UTC, may be empty) is when Magento cancelled it; `earlier` the reason it
    needed a person."""
    return _build("cancelled_needing_attention", changed_at=changed_at,
                  magento_state=magento_state, earlier=earlier)


def unspecified(message: str) -> Hold:
    """A reason given as text only: it keeps its words and groups as `unspecified`."""
    return Hold(UNSPECIFIED, {}, message)


def as_hold(reason: Hold | str) -> Hold:
    return reason if isinstance(reason, Hold) else unspecified(reason)


# Reading a code back from text ------------------------------------------------------------
def _pattern(template: Template) -> tuple[re.Pattern[str], dict[str, str]]:
    """A template as a regular expression with one group per field (a repeated field must
    repeat its value); and the conversion (!r) of each field."""
    parts: list[str] = []
    conversions: dict[str, str] = {}
    for literal, name, conversion in _fields(template.text):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in conversions:
            parts.append(f"(?P={name})")
        else:
            conversions[name] = conversion
            parts.append(f"(?P<{name}>.*?)")
    return re.compile("".join(parts), re.DOTALL), conversions


_PATTERNS = [(cause, template, *_pattern(template)) for cause in CATALOGUE.values()
             if cause.recognisable for template in cause.templates]


def _value(text: str, conversion: str, is_int: bool) -> Param | None:
    if conversion == "r":
        try:
            text = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        if text is None:
            return ""
        if not isinstance(text, str):
            return None
    if is_int:
        return int(text) if re.fullmatch(r"-?[0-9]+", text) else None
    return text


def recognise(message: str) -> Hold:
    """The hold a reason's text was worded from, or `unspecified` when no wording fits; the
    message is kept as given. For reasons written as text only (before the catalogue)."""
    for cause, template, pattern, conversions in _PATTERNS:
        found = pattern.fullmatch(message)
        if found is None:
            continue
        params: dict[str, Param] = dict(template.fixed)
        for name in cause.params:
            if name in conversions:
                value = _value(found.group(name), conversions[name], name in cause.ints)
                if value is None:
                    break
                params[name] = value
        else:
            if set(params) == set(cause.params):
                return Hold(cause.code, params, message)
    return unspecified(message)


# Grouping ---------------------------------------------------------------------------------
@dataclass
class CauseGroup:
    """The records held for one cause, in the order they came."""

    code: str
    title: str
    records: list[tuple[str, Hold]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.records)


def by_cause(records: Iterable[tuple[str, Hold]]) -> list[CauseGroup]:
    """(record key, hold) pairs grouped by code: the largest group first, then by code."""
    groups: dict[str, CauseGroup] = {}
    for key, hold in records:
        groups.setdefault(hold.code, CauseGroup(hold.code, hold.title)).records.append(
            (key, hold))
    return sorted(groups.values(), key=lambda g: (-g.count, g.code))
