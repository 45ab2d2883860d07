"""The values the ledger takes and gives back, apart from SQLite so that steps, ops and tests
can build and read them without opening a store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple


class RecordKey(NamedTuple):
    """Entity type + Magento entity id + store: the identity of a record in the ledger.

    A named tuple, not a frozen dataclass: the steps make and look up millions of keys (a
    dictionary lookup with a new key took 2.3 µs as a frozen dataclass, 0.5 µs as a tuple).
    So a key equals, and sorts as, the plain tuple of its three fields."""

    entity_type: str
    entity_id: int
    store_id: int

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_id}@{self.store_id}"

    @classmethod
    def parse(cls, text: str) -> RecordKey:
        """`invoice:12@1` (or `invoice:12`, store 0 then unknown) as printed by status/trace."""
        kind, _, rest = text.partition(":")
        number, _, store = rest.partition("@")
        if not kind or not number.isdigit() or (store and not store.isdigit()):
            raise ValueError(text)
        return cls(kind, int(number), int(store) if store else -1)


class Exported(NamedTuple):
    """A record as an export saw it (a named tuple: an export makes one per record)."""

    key: RecordKey
    increment_id: str
    order_id: int
    order_increment_id: str
    content_hash: str
    grand_total: str = ""
    magento_state: str = ""
    cancelled: bool = False
    changed_at: str = ""  # Magento's updated_at: when it was cancelled, for a cancelled one


@dataclass
class Registration:
    """What an export changed in the ledger that a person should hear about, with reasons."""

    amended: list[tuple[RecordKey, str]] = field(default_factory=list)
    voided: list[tuple[RecordKey, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchPlan:
    """What a batch will deliver: files (final paths) and the records and accounts in them."""

    files: list[str]
    # key, content hash, file; read once, so a generator will do (a batch of any size)
    records: Iterable[tuple[RecordKey, str, str]]
    accounts: list[str]  # customer keys whose account rows go in this batch
    accounts_file: str | None = None


@dataclass(frozen=True)
class RecordRow:
    """One ledger row, as status, trace and the fix-up commands show it."""

    key: RecordKey
    increment_id: str | None
    order_increment_id: str | None
    state: str
    held_by: str | None
    attempts: int
    last_error: str | None
    batch_id: int | None
    file: str | None
    sage_ref: str | None
    sage_invoice_ref: str | None
    updated_at: str


@dataclass(frozen=True)
class Push:
    """One push to Magento that changed something: what `rollback` undoes, at most once."""

    push_id: int
    kind: str
    run_id: str | None
    pushed_at: str
    rolled_back_at: str | None
    rolled_back_run: str | None
