"""Customer (account) rows: the Sage account reference and what Sage owns of the customer.

One row per account. The reference is required (a blank one is a problem); everything else
is optional and a blank cell means "Sage does not say", so it changes nothing in Magento.
On-hold is a yes/no in many spellings (Sage 300 SWHOLD 1/0, Sage 100 CreditHold Y/N, a
report's "On Hold"); anything else is a problem, never a guess.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.sage.frame import Built, Frame
from sagesync.sage.tables import QTY, SAGE_CUSTOMERS
from sagesync.sage.values import codes, quantities

HOLD_YES = frozenset({"1", "y", "yes", "true", "t", "on hold", "onhold", "hold", "h", "x",
                      "stop", "stopped"})
HOLD_NO = frozenset({"0", "n", "no", "false", "f", "open", "active", "ok", "off", "none"})
_TEXT = ("name", "price_level", "street1", "street2", "town", "county", "postcode",
         "country", "telephone")
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _text(frame: Frame, name: str) -> pa.Array:
    """Trimmed text; blank is null (Sage does not say)."""
    cells = frame.cells(name)
    if cells is None:
        return pa.nulls(frame.n, pa.string())
    return pc.if_else(pc.equal(cells, ""), pa.scalar(None, pa.string()), cells)


def _email(frame: Frame) -> pa.Array:
    cells = _text(frame, "email")
    bad = pc.and_(pc.is_valid(cells), pc.invert(pc.match_substring_regex(cells, _EMAIL)))
    frame.sink.add_mask(bad, cells, "email", frame.column("email"),
                        lambda t: f"email {t!r} is not an e-mail address (name@domain): the "
                        "customer cannot be matched by it")
    return pc.if_else(pc.fill_null(bad, False), pa.scalar(None, pa.string()), cells)


def _on_hold(frame: Frame) -> pa.Array:
    cells = _text(frame, "on_hold")
    lower = pc.utf8_lower(cells)
    yes = pc.is_in(lower, value_set=pa.array(sorted(HOLD_YES)))
    no = pc.is_in(lower, value_set=pa.array(sorted(HOLD_NO)))
    unknown = pc.and_(pc.is_valid(cells), pc.invert(pc.or_(yes, no)))
    frame.sink.add_mask(unknown, cells, "on_hold", frame.column("on_hold"),
                        lambda t: f"on_hold {t!r} is neither yes nor no (expected 1/0, Y/N, "
                        "Yes/No, True/False, On Hold/Open)")
    return pc.if_else(pc.is_valid(cells), yes, pa.scalar(None, pa.bool_()))


def _credit_limit(frame: Frame) -> pa.Array:
    cells = frame.cells("credit_limit")
    if cells is None:
        return pa.nulls(frame.n, QTY)
    values = quantities(cells, "credit_limit", frame.column("credit_limit"), frame.sink,
                        blank="zero", decimal_comma=frame.options.decimal_comma)
    return pc.if_else(pc.equal(cells, ""), pa.scalar(None, QTY), values)


def build_customers(frame: Frame) -> Built:
    """Typed customer rows, in file order."""
    column = frame.column("account")
    cells = frame.cells("account")
    assert cells is not None and column is not None  # resolve() guarantees the key column
    accounts = codes(cells, "account", column, frame.sink, default=None, width=None,
                     raw=frame.raw(column))
    arrays = {"account": accounts, "email": _email(frame), "on_hold": _on_hold(frame),
              "credit_limit": _credit_limit(frame)}
    arrays.update({name: _text(frame, name) for name in _TEXT})
    arrays["source_line"] = pa.array(frame.lines, pa.int32())
    table = pa.table([arrays[name] for name in SAGE_CUSTOMERS.names], schema=SAGE_CUSTOMERS)
    return Built(table, pa.array(range(frame.n), pa.int64()))
