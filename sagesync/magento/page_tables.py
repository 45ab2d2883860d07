"""One Magento search page -> the rows it adds to the export tables, as Arrow record batches.

Pure, and picklable both ways (nothing written or printed; a saved page is read here when only
its path is given), so a page is decoded in a worker process as well as in the caller's. What
spans pages stays with the caller: dropping repeats by entity id, quarantine files, bookmarks.

Two ways to the same rows. The exact way decodes with the typed entities (Decimal amounts) and
`MagentoTableBuilder`, and reads a page that fails as a whole record by record, so that a bad
record is reported alone. The fast way, for orders, invoices and credit memos, decodes into
twins of those structs that keep each amount as its JSON number, unparsed (`msgspec.Raw`),
hashes them, and turns all of a page's amounts into decimal128 with one text-to-decimal cast
in Arrow's C++: no Python Decimal per value, which was most of the export's time. It is taken
only where it gives exactly what the exact way gives, and says why it does:

- msgspec writes a Decimal as `str(value)` and a Raw as its bytes. For a plain JSON number (no
  exponent, fewer than six zeros after "0.") `str(Decimal(text)) == text`, so a twin encodes,
  and hashes, byte for byte as the entity does.
- Arrow's cast parses the number exactly and fails rather than round; the exact way stores the
  same exact value, or rounds, when the cast would fail.
- Anything else (a string, an exponent, 0.0000001, more places than a column keeps, 1e400, an
  object where an amount belongs, any value Arrow refuses) sends the page the exact way.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import blake3
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET, Raw, UnsetType

from sagesync.magento.entities import (
    ENTITY_TYPES,
    PAGE_DECODERS,
    Extra,
    Money,
    SearchPage,
)
from sagesync.magento.tables import (
    _HASH_NEUTRAL_FIELDS,
    _WEEE,
    PAYMENT_FIELDS,
    MagentoTableBuilder,
    _has_weee,
    _to_array,
    extension_money,
    unhashed,
)
from sagesync.model.schemas import EXCHANGE_RATE, MAGENTO_MONEY, MAGENTO_TABLES, UTC_TIME

# Where a record stands after its page: a row of the tables, outside the window, or a record
# whose values its columns cannot hold (quarantined alone by the caller).
ROW, OUTSIDE, REJECTED = 0, 1, 2
ITEM_TABLES = {"orders": "order_items", "invoices": "invoice_items",
               "creditmemos": "creditmemo_items"}


@dataclass(frozen=True)
class PageJob:
    """A page to decode: its bytes, or the saved file to read them from (`digest` asks for
    their size and `page_digest`, for the raw index), and the window a saved page is filtered
    by."""

    entity: str
    origin: str
    body: bytes | None = None
    path: str | None = None
    digest: bool = False
    filter_locally: bool = False
    since: str | None = None
    until: str | None = None
    store_ids: tuple[int, ...] = ()


@dataclass
class PageOutcome:
    """What one page adds: its records in page order as (position, id, order id, ROW/OUTSIDE/
    REJECTED), the tables' rows of the ROW records (and how many lines each has), and what
    is wrong with the page or with single records, in the words the quarantine reports use."""

    size: int = 0
    digest: str | None = None  # page_digest of the bytes read, when the job asked
    unreadable: str | None = None  # the OS's reason a saved page could not be read
    bad_page: str | None = None
    body: bytes | None = None  # a bad page's bytes when the caller did not hold them
    bad_records: list[tuple[int, bytes, str]] = field(default_factory=list)  # verbatim
    rejected: dict[int, tuple[bytes, str]] = field(default_factory=dict)  # as read
    records: list[tuple[int, int, int | None, int]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # line rows of each ROW record
    tables: dict[str, pa.RecordBatch] = field(default_factory=dict)
    fast: bool = False  # taken the fast way (tests and measurements ask)

    def __getstate__(self) -> dict[str, Any]:
        """Tables cross processes as Arrow IPC streams: a few buffers, no object per value."""
        state = dict(self.__dict__)
        state["tables"] = {name: _ipc(batch) for name, batch in self.tables.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["tables"] = {name: pa.ipc.open_stream(data).read_next_batch()
                           for name, data in state["tables"].items()}
        self.__dict__.update(state)


def _ipc(batch: pa.RecordBatch) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def decode_page(job: PageJob, *, fast: bool = True) -> PageOutcome:
    """The page's records and rows; the fast way when it applies (and `fast`), else the
    exact way."""
    body = job.body
    if body is None:
        try:
            body = Path(job.path or job.origin).read_bytes()
        except OSError as exc:
            return PageOutcome(unreadable=exc.strerror or str(exc))
    outcome = _fast(job, body) if fast and job.entity in TWIN_DECODERS else None
    if outcome is None:
        outcome = _exact(job, body)
    outcome.size = len(body)
    if job.digest:
        outcome.digest = page_digest(body)
    if outcome.bad_page is not None and job.body is None:
        outcome.body = body
    return outcome


def page_digest(body: bytes) -> str:
    """The raw index's digest of a page: BLAKE3, four times the speed of SHA-256 here (the
    SHA-256 of every page was an eighth of the export's time); a hex string all the same."""
    return str(blake3.blake3(body).hexdigest())


def in_window(item: object, since: str | None, until: str | None,
              store_ids: tuple[int, ...], entity: str) -> bool:
    updated = getattr(item, "updated_at", None) or getattr(item, "created_at", None) or ""
    if since and updated < since:
        return False
    if until and updated > until:
        return False
    return not (store_ids and entity != "customers"
                and getattr(item, "store_id", None) not in store_ids)


def _identity(entity: str, item: Any) -> int:
    return int(item.id if entity == "customers" else item.entity_id)


# The exact way ----------------------------------------------------------------------------------

class BadPage(Exception):
    """The page as a whole cannot be read; the message says why (and where)."""


class _RawItems(msgspec.Struct):
    """A search page with its items left unparsed, to read a failing page record by record."""

    items: list[msgspec.Raw] | UnsetType | None = UNSET
    total_count: int | None = None


_RAW_ITEMS = msgspec.json.Decoder(_RawItems)
AS_READ = msgspec.json.Encoder(decimal_format="string")  # NaN and 1E+400 stay writable
ITEM_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    name: msgspec.json.Decoder(cls) for name, cls in ENTITY_TYPES.items()}


def position(body: bytes, message: str) -> str:
    """Line and column of a JSON syntax error, from the byte offset msgspec reports."""
    found = re.search(r"byte (\d+)", message)
    if not found:
        return ""
    offset = min(int(found.group(1)), len(body))
    line = body.count(b"\n", 0, offset) + 1
    column = offset - (body.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}: "


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
_CLOSES = {b"]": b"[", b"}": b"{"}


def split_items(body: bytes) -> list[bytes] | None:
    """The top-level `items` array's elements as byte slices, found by a flat scan of the
    brackets (no recursion, so a record nested too deeply for the decoder cannot take its
    neighbours down with it). None unless every bracket
    of the page matches and nothing follows the page: a cut or a stray bracket must fail the
    whole page, never end `items` early and drop the records after it unseen."""
    stack: list[bytes] = []
    items: list[bytes] | None = None
    start = 0
    previous = b""
    for token in _TOKEN.finditer(body):
        text = token.group()
        if text in (b"[", b"{"):
            stack.append(text)
            if len(stack) == 2 and text == b"[" and previous == b'"items"' and items is None:
                items, start = [], token.end()
        elif text in _CLOSES:
            if not stack or stack.pop() != _CLOSES[text]:
                return None
            if len(stack) == 1 and text == b"]" and items is not None and start >= 0:
                if body[start:token.start()].strip() or items:
                    items.append(body[start:token.start()].strip())
                start = -1  # the array is closed
            if not stack and body[token.end():].strip():
                return None
        elif text == b"," and len(stack) == 2 and items is not None and start >= 0:
            items.append(body[start:token.start()].strip())
            start = token.end()
        if text != b":":
            previous = text if len(stack) == 1 else b""
    return items if not stack and body.strip()[:1] == b"{" else None


def decoded_records(entity: str, body: bytes,
                    bad_records: list[tuple[int, bytes, str]]) -> list[tuple[int, Any]]:
    """The page's good records with their positions; each bad one goes to `bad_records`
    (position, bytes, problem). Raises BadPage when the page as a whole cannot be read.
    Whole-page decoding is the fast path; only a page that fails it is read record by record."""
    try:
        decoded = PAGE_DECODERS[entity].decode(body)
    except (msgspec.DecodeError, RecursionError):
        pass  # find out which records are bad, below
    else:
        if decoded.items or not decoded.total_count:
            return list(enumerate(decoded.items))
    try:
        envelope = _RAW_ITEMS.decode(body)
    except msgspec.DecodeError as exc:  # not well-formed JSON: no record of it is trusted
        raise BadPage(position(body, str(exc)) + str(exc)) from None
    except RecursionError:  # one record nested thousands deep: split without recursing
        split = split_items(body)
        if split is None:
            raise BadPage("JSON nested too deeply to be a Magento page") from None
        envelope = _RawItems(items=[msgspec.Raw(item) for item in split])
    if envelope.items is None or envelope.items is UNSET:
        if not envelope.total_count and envelope.items is UNSET:
            return []  # an empty result that left out its empty list
        shown = "null" if envelope.items is None else "missing"
        raise BadPage(f"`items` is {shown} but total_count is {envelope.total_count}: "
                      "the page lost its records (a page with none has `items: []`)")
    good = []
    for index, raw in enumerate(envelope.items):
        try:
            good.append((index, ITEM_DECODERS[entity].decode(raw)))
        except msgspec.DecodeError as exc:
            bad_records.append((index, bytes(raw),
                                str(exc).replace("`$", f"`$.items[{index}]")))
        except RecursionError:
            bad_records.append((index, bytes(raw),
                                "JSON nested too deeply to be a Magento record"))
    return good


def _exact(job: PageJob, body: bytes) -> PageOutcome:
    outcome = PageOutcome()
    entity = job.entity
    try:
        items = decoded_records(entity, body, outcome.bad_records)
    except BadPage as bad:
        outcome.bad_page = str(bad)
        return outcome
    builder = MagentoTableBuilder()
    kept: dict[int, Any] = {}
    for index, item in items:
        identity = _identity(entity, item)
        order_id = item.order_id if entity in ("invoices", "creditmemos") else None
        if job.filter_locally and not in_window(item, job.since, job.until, job.store_ids,
                                                entity):
            outcome.records.append((index, identity, order_id, OUTSIDE))
            continue
        outcome.records.append((index, identity, order_id, ROW))
        builder.add(entity, item, index)
        kept[index] = item
    outcome.tables = builder.take()
    for tag, _, item, problem in builder.rejected:
        index = typing.cast(int, tag)
        outcome.rejected[index] = (AS_READ.encode(item), problem)
        del kept[index]
    if outcome.rejected:
        outcome.records = [(i, identity, order, REJECTED if i in outcome.rejected else status)
                           for i, identity, order, status in outcome.records]
    outcome.lines = [len(getattr(item, "items", ())) for item in kept.values()]
    return outcome


# The fast way -----------------------------------------------------------------------------------

_NULL = Raw(b"null")


class _NotFast(Exception):
    """This page goes the exact way (see the module's docstring for when)."""


def _twin(cls: type[msgspec.Struct], made: dict[type, type]) -> type[msgspec.Struct]:
    """A struct with `cls`'s fields in `cls`'s order (so it encodes with the same keys in the
    same order), each amount kept as its raw JSON (null when absent, as None encodes)."""
    if cls in made:
        return made[cls]
    hints = typing.get_type_hints(cls)
    fields: list[tuple[str, Any, Any]] = []
    for spec in msgspec.structs.fields(cls):
        kind = hints[spec.name]
        default: Any = spec.default
        if spec.default_factory is not msgspec.NODEFAULT:
            default = msgspec.field(default_factory=spec.default_factory)
        if kind == Money:
            kind, default = Raw, _NULL
        elif kind == Extra:
            kind = Raw | UnsetType
        elif typing.get_origin(kind) is list and _has_amounts(typing.get_args(kind)[0]):
            kind = list[_twin(typing.get_args(kind)[0], made)]  # type: ignore[misc]
        fields.append((spec.name, kind, default))
    twin = msgspec.defstruct(f"Raw{cls.__name__}", [
        (name, kind) if default is msgspec.NODEFAULT else (name, kind, default)
        for name, kind, default in fields], kw_only=True, gc=False, module=__name__)
    made[cls] = twin
    return twin


def _has_amounts(cls: object) -> bool:
    return isinstance(cls, type) and issubclass(cls, msgspec.Struct) and any(
        kind in (Money, Extra) for kind in typing.get_type_hints(cls).values())


_MADE: dict[type, type] = {}
_TWINS = {name: _twin(ENTITY_TYPES[name], _MADE) for name in ITEM_TABLES}
# The export's decoder of a page of each entity: the least any posting of a page does (the
# bench's floor decodes with it too).
TWIN_DECODERS = {name: msgspec.json.Decoder(SearchPage[twin])  # type: ignore[valid-type]
                  for name, twin in _TWINS.items()}
_ENCODE = msgspec.json.Encoder(decimal_format="number").encode
_AMOUNT = msgspec.json.Decoder(Decimal | None)
_PLAIN = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_LONGEST = 32  # characters of an amount the cast is trusted with (no column holds more)


def _amount(raw: Any) -> Decimal | None:
    """A raw amount as the entity holds it (Decimal or None); UNSET is None."""
    if raw is UNSET:
        return None
    try:
        return _AMOUNT.decode(raw)
    except msgspec.DecodeError:
        raise _NotFast from None


def _plain(text: bytes) -> bool:
    """Whether each amount encodes as the entity's Decimal does, for the text of joined
    amounts (commas and `null` between them): no exponent, no 0.000000x (the Decimal prints
    as 1E-7), and no integer -0 (msgspec reads it as the integer 0)."""
    return b"e" not in text and b"E" not in text and b"0.000000" not in text and \
        b",-0," not in b"," + text + b","


def _plain_number(raw: Raw) -> bool:
    text = bytes(raw)
    return _PLAIN.fullmatch(text) is not None and _plain(text)


def _neutral(name: str, raw: Any) -> bool:
    """tables._neutral for a raw amount: absent, null, zero, or an exchange rate of 1."""
    if raw is UNSET:
        return False
    if name == "extension_attributes":
        return True
    value = _amount(raw)
    return value is None or value == (1 if name == "base_to_order_rate" else 0)


_NEUTRAL_GET = operator.attrgetter(*_HASH_NEUTRAL_FIELDS)
_PAYMENTS_GET = operator.attrgetter(*PAYMENT_FIELDS)
_NONE_SENT = (UNSET,) * len(PAYMENT_FIELDS)


def _extras(entity: Any) -> tuple[str, str | None]:
    """tables.content_hash and tables._extra_amounts_json of a twin, in one pass."""
    changes = dict(unhashed(type(entity)))
    for name, value in zip(_HASH_NEUTRAL_FIELDS, _NEUTRAL_GET(entity), strict=True):
        if value is UNSET:
            continue
        if _neutral(name, value):
            changes[name] = UNSET
        elif not _plain_number(value):
            raise _NotFast  # an amount that would not encode as its Decimal does
    payments = _PAYMENTS_GET(entity)
    found = {} if payments == _NONE_SENT else {
        name: value for name, raw in zip(PAYMENT_FIELDS, payments, strict=True)
        if (value := _amount(raw))}
    weee = _has_weee(entity)
    if weee:
        items = []
        for item in entity.items:
            blank = {}
            for name, _ in _WEEE:
                value = getattr(item, name)
                if _neutral("weee", value):
                    blank[name] = UNSET
                elif value is not UNSET and not _plain_number(value):
                    raise _NotFast
            items.append(msgspec.structs.replace(item, **blank) if blank else item)
        changes["items"] = items
        for name, key in _WEEE:
            total = sum((v for item in entity.items
                         if (v := _amount(getattr(item, name)))), Decimal(0))
            if total:
                found[key] = total
    digest = hashlib.blake2b(_ENCODE(msgspec.structs.replace(entity, **changes)),
                             digest_size=16)
    money = extension_money(entity)
    if money:
        digest.update(_ENCODE(sorted(money.items())))
        found.update({f"extension_attributes.{k}": v for k, v in money.items()})
    extras = json.dumps({k: str(v) for k, v in sorted(found.items())}) if found else None
    return digest.hexdigest(), extras


_ALIASES = {"base_shipping_discount_tax_compensation_amount":
            "base_shipping_discount_tax_compensation_amnt"}


class _Columns:
    """How each column of one table is read from twins; `batch()` builds them all from the
    twins' fields transposed at once (no getter call per value), the amounts of every money
    column with one cast."""

    def __init__(self, schema: pa.Schema, parent: bool) -> None:
        self.schema = schema
        self.parent = parent  # the first column is the parent document's id
        names = schema.names[1:] if parent else schema.names
        self.money = [n for n in names if schema.field(n).type == MAGENTO_MONEY]
        self.money_fields = [_ALIASES.get(n, n) for n in self.money]
        self.times = [n for n in names if schema.field(n).type == UTC_TIME]
        self.billing = [n for n in names if n.startswith("billing_")]

    def batch(self, rows: list[Any], parents: list[int] | None = None,
              computed: dict[str, pa.Array] | None = None) -> pa.RecordBatch:
        count = len(rows)
        if not count:
            return pa.RecordBatch.from_pylist([], schema=self.schema)
        fields = zip(*map(msgspec.structs.astuple, rows), strict=True)  # one tuple per field
        values = dict(zip(rows[0].__struct_fields__, fields, strict=True))
        columns: dict[str, pa.Array] = dict(computed or {})
        if self.money:
            amounts = itertools.chain.from_iterable(values[f] for f in self.money_fields)
            columns.update(zip(self.money, _decimals(amounts, len(self.money), count,
                                                     MAGENTO_MONEY), strict=True))
        if self.times:
            stamps = list(itertools.chain.from_iterable(values[n] for n in self.times))
            parsed = _to_array(stamps, UTC_TIME)
            for i, name in enumerate(self.times):
                columns[name] = parsed.slice(i * count, count)
        for name in self.billing:
            columns[name] = pa.array(_address_field(values["billing_address"],
                                                    name.removeprefix("billing_")), pa.string())
        arrays = []
        for position_, spec in enumerate(self.schema):
            name = spec.name
            if position_ == 0 and self.parent:
                arrays.append(pa.array(parents, pa.int64()))
            elif name in columns:
                arrays.append(columns[name])
            elif name == "customer_is_guest":
                arrays.append(pa.array(values[name], pa.int64()).cast(pa.bool_()))
            else:
                arrays.append(_to_array(values[name], spec.type))  # type: ignore[arg-type]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _address_field(addresses: Iterable[Any], name: str) -> list[Any]:
    if name == "street":
        return [None if a is None or a.street is None else "\n".join(a.street)
                for a in addresses]
    get = operator.attrgetter(name)
    return [None if a is None else get(a) for a in addresses]


# Arrow scalars made once: a Python value given to a compute function is converted on every
# call, and pyarrow tries (and fails) to import dateutil each time.
_NULL_TEXT = pa.scalar("null", pa.string())
_NO_TEXT = pa.scalar(None, pa.string())


def _decimals(amounts: Iterable[Any], columns: int, count: int,
              type_: pa.DataType) -> list[pa.Array]:
    """Raw amounts (`columns` columns one after another, `count` rows each) -> decimal
    arrays, exactly, or _NotFast."""
    text = b",".join(amounts)
    if not _plain(text):
        raise _NotFast
    pieces = pc.split_pattern(pa.array([text], pa.string()), ",").flatten()
    if len(pieces) != columns * count:
        raise _NotFast  # a comma inside a value: not an amount
    if pc.max(pc.binary_length(pieces)).as_py() > _LONGEST:
        raise _NotFast  # Arrow's parser wraps past 38 digits (5,000 nines read as -1)
    try:
        values = pc.if_else(pc.equal(pieces, _NULL_TEXT), _NO_TEXT, pieces).cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _NotFast from None
    return [values.slice(i * count, count) for i in range(columns)]


_EXTRAS = operator.attrgetter("base_to_order_rate", *PAYMENT_FIELDS)
_LINE_EXTRAS = operator.attrgetter(*(name for name, _ in _WEEE))
_NUMBER_OR_NULL = r"^(?:-|[0-9]|null$)"  # the raw JSON of a number starts so, and no other


def _decodable(entity: str, rows: list[Any]) -> bool:
    """Whether the entities decode these rows (records outside the window are not built,
    but one the entities cannot decode is still reported bad): every amount a number or null
    (the entities take any JSON number as Decimal), else let the exact way tell."""
    amounts: list[Any] = []
    for name in _TABLES[entity].money_fields:
        amounts.extend(map(operator.attrgetter(name), rows))
    lines = [line for row in rows for line in row.items]
    for name in _LINES[entity].money_fields:
        amounts.extend(map(operator.attrgetter(name), lines))
    amounts.extend(v for row in rows for v in _EXTRAS(row) if v is not UNSET)
    amounts.extend(v for line in lines for v in _LINE_EXTRAS(line) if v is not UNSET)
    if not amounts:
        return True
    pieces = pc.split_pattern(pa.array([b",".join(amounts)], pa.string()), ",").flatten()
    return bool(pc.all(pc.match_substring_regex(pieces, _NUMBER_OR_NULL)).as_py())


_TABLES = {name: _Columns(MAGENTO_TABLES[name], parent=False) for name in ITEM_TABLES}
_LINES = {name: _Columns(MAGENTO_TABLES[table], parent=True)
          for name, table in ITEM_TABLES.items()}


def _fast(job: PageJob, body: bytes) -> PageOutcome | None:
    """The fast way, or None when the page must go the exact way."""
    entity = job.entity
    try:
        page: Any = TWIN_DECODERS[entity].decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not page.items and page.total_count:
        return None
    outcome = PageOutcome(fast=True)
    rows: list[Any] = []
    outside: list[Any] = []
    order_ids = entity != "orders"
    for index, item in enumerate(page.items):
        inside = not job.filter_locally or in_window(item, job.since, job.until,
                                                      job.store_ids, entity)
        outcome.records.append((index, item.entity_id, item.order_id if order_ids else None,
                                ROW if inside else OUTSIDE))
        (rows if inside else outside).append(item)
    if outside and not _decodable(entity, outside):
        return None  # a record outside the window that the exact way reports as bad
    if not rows:
        return outcome
    try:
        hashes, extras = zip(*map(_extras, rows), strict=True)
        rates = [_NULL if rate is UNSET else rate for rate in
                 map(operator.attrgetter("base_to_order_rate"), rows)]
        [rate_array] = _decimals(rates, 1, len(rows), EXCHANGE_RATE)
        table = _TABLES[entity].batch(rows, computed={
            "content_hash": pa.array(hashes, pa.string()),
            "extra_amounts": pa.array(extras, pa.string()), "base_to_order_rate": rate_array})
        lines: list[Any] = []
        parents: list[int] = []
        for row in rows:
            lines.extend(row.items)
            parents.extend([row.entity_id] * len(row.items))
            outcome.lines.append(len(row.items))
        items = _LINES[entity].batch(lines, parents)
    except (_NotFast, ArithmeticError, ValueError, TypeError, OverflowError,
            pa.ArrowException):
        return None  # the exact way finds the record at fault, or rounds as it always did
    outcome.tables = {name: batch for name, batch in
                      ((entity, table), (ITEM_TABLES[entity], items)) if batch.num_rows}
    return outcome
