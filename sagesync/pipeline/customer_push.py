"""The customer master from Sage: a parsed customer export -> Magento customers.

Each Sage account is mapped to its Magento customer: the ledger's account mapping first (the
accounts sagesync allocated or learnt), then the e-mail, compared without regard to case. An
e-mail that matches two customers, or a customer another Sage row or another account already
claims, is reported and never guessed. An account with no Magento customer (a trade account
with no web login) is listed, not an error.

Only customers whose wanted state differs from what the ledger recorded at their last push are
looked at; each is read (`GET`), changed in what Sage owns, and written back whole (`PUT`) only
when something differs. What was pushed is recorded a chunk at a time, so a push killed half
way is finished by a rerun that skips what landed (a customer in flight is read again and, its
change already there, not written twice). The group guard refuses a push that would move too
many known customers between groups at once (a shifted column), unless forced.

Under `[customers] new_accounts = "review"`, an account awaiting approval that the export
lists (and not on hold) is approved, and an e-mail match re-points a customer's generated,
never-delivered account to Sage's own: either releases its held documents.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from sagesync.catalog.customers import Change, Wanted, apply, check_groups, wanted_of
from sagesync.errors import UsageError
from sagesync.ledger import Ledger
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import Recipe

KIND = "customers"


class Customers(Protocol):
    def get(self, customer_id: int) -> dict[str, Any]: ...

    def put(self, customer_id: int, customer: dict[str, Any]) -> str | None: ...

    def find_by_email(self, email: str) -> list[dict[str, Any]]: ...


def customer_payload(table: pa.Table, recipe: Recipe) -> tuple[pa.Table, list[str]]:
    """The parsed rows with the group each maps to, and the price levels `[customers] groups`
    does not name (their customers keep their group)."""
    groups, unmapped = [], set()
    for row in table.to_pylist():
        wanted, level = wanted_of(row, recipe.customers.groups, sage_addresses=False)
        groups.append(wanted.group_id)
        if level:
            unmapped.add(level)
    return table.append_column("group_id", pa.array(groups, pa.int64())), sorted(unmapped)


@dataclass
class Target:
    """One Sage account mapped to a Magento customer."""

    account: str
    customer_id: int
    email: str
    wanted: Wanted
    how: str  # "ledger" or "email"


@dataclass
class CustomerPush:
    targets: list[Target] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # no Magento customer: listed only
    failed: list[str] = field(default_factory=list)  # a person looks (exit 1)
    approved: list[str] = field(default_factory=list)  # accounts whose documents go on
    preview: list[tuple[str, int | str, str, Change]] = field(default_factory=list)


def _key(customer_id: int) -> str:
    return f"customer:{customer_id}"


def map_accounts(rows: list[dict[str, Any]], recipe: Recipe, ledger: Ledger,
                 client: Customers | None, result: CustomerPush) -> None:
    """Each row's Magento customer: the ledger's mapping, then the e-mail."""
    by_ref = {ref: key for key, ref in ledger.account_refs().items()}
    refs_of = ledger.account_refs()
    sage_addresses = recipe.customers.addresses == "sage"
    claimed: dict[int, str] = {}
    for row in rows:
        account, email = row["account"], row.get("email") or ""
        wanted, _ = wanted_of(row, recipe.customers.groups, sage_addresses=sage_addresses)
        key = by_ref.get(account)
        if key is not None and key.startswith("customer:"):
            target = Target(account, int(key.split(":", 1)[1]), email, wanted, "ledger")
        elif not email:
            result.unknown.append(f"{account}: not in the ledger and no e-mail in the export")
            continue
        else:
            if client is None:
                raise UsageError("push-magento needs a live store to find customers by e-mail: "
                                 "set [magento] base_url and token.")
            found = client.find_by_email(email)
            if not found:
                result.unknown.append(f"{account}: no Magento customer with e-mail {email}")
                continue
            if len(found) > 1:
                ids = " and ".join(str(c.get("id")) for c in found)
                result.failed.append(f"{account}: e-mail {email} matches Magento customers "
                                     f"{ids}; not pushed (which one is Sage's account is "
                                     "unclear: give them different e-mails, or map one in "
                                     "the ledger)")
                continue
            customer_id = int(found[0]["id"])
            other = refs_of.get(_key(customer_id))
            if other is not None and other not in ledger.unapproved_accounts():
                result.failed.append(f"{account}: e-mail {email} is Magento customer "
                                     f"{customer_id}, whose documents post to Sage account "
                                     f"{other}; not pushed (two Sage accounts for one "
                                     "customer: merge them in Sage, or correct the e-mail)")
                continue
            target = Target(account, customer_id, email, wanted, "email")
        if target.customer_id in claimed:
            result.failed.append(f"{account}: Magento customer {target.customer_id} is also "
                                 f"Sage account {claimed[target.customer_id]} in this export; "
                                 "neither row decides it, so it is not pushed")
            result.targets = [t for t in result.targets if t.customer_id != target.customer_id]
            continue
        claimed[target.customer_id] = account
        result.targets.append(target)


def settle_accounts(rows: list[dict[str, Any]], targets: list[Target], ledger: Ledger,
                    source: str, result: CustomerPush) -> None:
    """Remember the accounts matched by e-mail, and approve the accounts awaiting review
    that the export lists and does not hold (their documents go back to the queue)."""
    awaiting = ledger.unapproved_accounts()
    on_hold = {row["account"]: bool(row.get("on_hold")) for row in rows}
    for target in targets:
        if target.how == "email":
            released = ledger.adopt_sage_account(_key(target.customer_id), target.account,
                                                 f"Sage's customer export {source}")
            if released:
                result.approved.append(f"{target.account} (customer {target.customer_id}): "
                                       f"{len(released)} documents released")
    for account in sorted(awaiting & set(on_hold)):
        if on_hold[account]:
            continue
        _, released = ledger.approve_account(account, f"listed in Sage's customer export "
                                             f"{source}")
        result.approved.append(f"{account}: {len(released)} documents released")


@dataclass
class CustomerPushResult:
    manifest: Path
    kind: str = KIND
    changed: int = 0
    unchanged: int = 0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    unknown_skus: list[str] = field(default_factory=list)  # unused: the CLI's common shape
    unknown_accounts: list[str] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    refused: str | None = None
    preview: Path | None = None
    moves: list[tuple[str, int, int]] = field(default_factory=list)  # the guard's
    previews: list[str] = field(default_factory=list)  # "account: what old -> new"
    would_write: int = 0  # a dry run's customers with something to change


def push_customers(recipe: Recipe, table: pa.Table, ledger: Ledger, folder: Path, *,
                   dry_run: bool, force: bool, source: str,
                   make_client: Callable[[Recipe], Customers] | None = None
                   ) -> CustomerPushResult:
    """Map, guard, then read, change and write back each customer whose wanted state
    changed since its last push. A dry run reads but writes nothing, ledger included."""
    rows = table.to_pylist()
    result = CustomerPushResult(manifest=Path())
    push = CustomerPush()
    client = (make_client or default_client)(recipe) if recipe.magento.base_url else None
    map_accounts(rows, recipe, ledger, client, push)
    previous = ledger.pushed(KIND)
    changed = [t for t in push.targets
               if previous.get(_key(t.customer_id)) != t.wanted.fingerprint()]
    result.changed, result.unchanged = len(changed), len(push.targets) - len(changed)
    guard = check_groups({t.account: (Wanted.group_of(previous.get(_key(t.customer_id))),
                                      t.wanted.group_id) for t in push.targets},
                         recipe.customers.max_group_change_pct)
    result.moves = guard.moves
    if guard.tripped and not force:
        result.refused = guard.reason(recipe.customers.max_group_change_pct)
        push.preview = [(a, "", "", Change("group", str(old), str(new)))
                        for a, old, new in guard.moves]
    elif changed:
        if client is None:
            raise UsageError("push-magento needs a live store for customers: set [magento] "
                             "base_url and token.")
        result.sent = _write(client, changed, ledger, recipe.push_chunk_size, push,
                             recipe.customers.hold_attribute, dry_run=dry_run)
    if not dry_run and result.refused is None:
        settle_accounts(rows, push.targets, ledger, source, push)
    result.failed, result.unknown_accounts = push.failed, push.unknown
    result.approved = push.approved
    result.previews = [f"{a} (customer {c}): {ch.what} {ch.old or '(none)'} -> {ch.new}"
                       for a, c, _, ch in push.preview]
    result.would_write = len({c for _, c, _, _ in push.preview}) if result.refused is None \
        else 0
    result.preview = _write_preview(folder, push.preview)
    return result


def _write(client: Customers, targets: list[Target], ledger: Ledger, chunk: int,
           push: CustomerPush, hold_attribute: str | None, *, dry_run: bool) -> int:
    """Read, change, write back; record what landed after each chunk. Returns how many
    customers were written."""
    from sagesync.magento.customers import CustomerGone

    written = 0
    landed: dict[str, str] = {}
    for n, target in enumerate(targets, 1):
        label = f"{target.account} (customer {target.customer_id})"
        try:
            customer = client.get(target.customer_id)
            new, changes = apply(customer, target.wanted, hold_attribute)
            push.preview += [(target.account, target.customer_id, target.email, c)
                             for c in changes]
            problem = client.put(target.customer_id, new) if changes and not dry_run \
                else None
        except CustomerGone:
            problem = "the customer is not in Magento (404)"
        if problem:
            push.failed.append(f"{label}: {problem}")
        elif not dry_run:
            written += bool(changes)
            landed[_key(target.customer_id)] = target.wanted.fingerprint()
            crash_point("customer-written")
        if landed and (n % chunk == 0 or n == len(targets)):
            ledger.record_pushed(KIND, landed)
            landed = {}
            crash_point("customer-chunk")
    return written


def _write_preview(folder: Path, preview: list[tuple[str, int | str, str, Change]]) -> Path:
    """account, customer, e-mail, what, old -> new: what a person checks before --force."""
    from sagesync.render import csv_cell

    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(["account", "customer_id", "email", "what", "old", "new"])
    for account, customer_id, email, change in preview:
        out.writerow([csv_cell(str(c)) for c in (account, customer_id, email, change.what,
                                                 change.old, change.new)])
    path = folder / "preview.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def default_client(recipe: Recipe) -> Customers:
    from sagesync.magento.connect import magento_auth
    from sagesync.magento.customers import CustomerAccounts
    from sagesync.magento.http import RetryPolicy

    assert recipe.magento.base_url
    return CustomerAccounts(recipe.magento.base_url,
                            magento_auth(recipe, recipe.magento.base_url),
                            timeout=recipe.magento.timeout_seconds,
                            retry=RetryPolicy(
                                attempts=recipe.magento.retry_attempts,
                                max_retry_after=recipe.magento.max_retry_after_seconds),
                            auth_kind=recipe.magento.auth)


def summary(result: CustomerPushResult, dry_run: bool, force: bool) -> Mapping[str, Any]:
    return {"kind": KIND, "changed": result.changed, "unchanged": result.unchanged,
            "sent": result.sent, "failed": result.failed,
            "unknown_accounts": result.unknown_accounts, "approved": result.approved,
            "refused": result.refused, "dry_run": dry_run, "forced": force}
