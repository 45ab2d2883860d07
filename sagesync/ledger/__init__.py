"""The ledger: one SQLite file per state folder that remembers every record crossing the border.

It is the local queue and what makes reruns safe (DESIGN.md §4):

    exported -> queued -> sent -> confirmed
       queued -> held                  validation failed, or a person put it on hold
       sent -> rejected -> queued      next cycle, attempts + 1; at max_attempts -> needs_attention
       sent/confirmed + Magento changed -> amended (never resent automatically)
       pending + cancelled in Magento -> void (terminal: never delivered)
       exported -> skipped              nothing to post (zero total); changed in Magento -> exported
       sent/confirmed + cancelled in Magento -> amended (Sage still has it: a person reverses it)

A document is written into a delivered file at most once: a batch is first recorded as
`writing` with the files it will write and the records in each, then the files are written and
renamed into place, each journaled (`batch_files`) as complete and then as renamed before the
next one starts, then the batch and its records are marked `sent` in one transaction. A crash
anywhere in between is repaired by `recover` before the next batch: what the journal or the
folder shows as renamed is recorded as sent (even if the folder was collected since), the rest
stays queued, and a file renamed then collected before the journal knew needs a person.

The package: `schema` (record states and the SQLite migrations), `records` (the values every
caller passes in and gets back), `outcomes` (a transform's outcomes, on disk until the ledger
takes them) and `store` (the `Ledger` itself). Pipeline steps and ops commands both use it, so
it sits below them and imports nothing of theirs.
"""

from sagesync.ledger.outcomes import TransformOutcomes
from sagesync.ledger.records import (
    BatchPlan,
    Exported,
    Push,
    RecordKey,
    RecordRow,
    Registration,
)
from sagesync.ledger.schema import DONE, MIGRATIONS, PENDING, SKIPPED, VOID
from sagesync.ledger.store import Ledger, OrderAnswer, uncertain_reason

__all__ = [
    "DONE",
    "MIGRATIONS",
    "PENDING",
    "SKIPPED",
    "VOID",
    "BatchPlan",
    "Exported",
    "Ledger",
    "OrderAnswer",
    "Push",
    "RecordKey",
    "RecordRow",
    "Registration",
    "TransformOutcomes",
    "uncertain_reason",
]
