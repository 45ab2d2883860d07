"""Sage account references for web customers: mapped, remembered, or generated.

Order of precedence: guests post to the recipe's guest account; a customer whose e-mail is in
`customers_csv` posts to that existing account; otherwise the ledger's remembered allocation;
otherwise a new reference is generated and remembered, so it never changes between runs.
Generated references follow Sage 50's rules (`[A-Z0-9]{1,8}`, sage-formats.md §1.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagesync.recipe import MappingSettings

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def customer_key(order: Mapping[str, Any]) -> str | None:
    """The ledger key of a registered customer; None for a guest."""
    if order.get("customer_is_guest") or order.get("customer_id") is None:
        return None
    return f"customer:{order['customer_id']}"


def _base_from_name(order: Mapping[str, Any]) -> str:
    last, first = order.get("customer_lastname") or "", order.get("customer_firstname") or ""
    name = order.get("billing_company") or f"{last}{first}"
    letters = _NOT_ALNUM.sub("", name.upper())
    return letters[:6] or "WEB"


@dataclass
class AccountAllocator:
    """Hands out account references; `new` lists allocations the ledger must remember."""

    settings: MappingSettings
    mapped_by_email: dict[str, str]
    remembered: dict[str, str]
    new: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.taken = set(self.remembered.values()) | set(self.mapped_by_email.values())
        self.taken.add(self.settings.guest_account)
        self.next_number: dict[tuple[str, int], int] = {}  # where each stem's search resumes

    def account_for(self, order: Mapping[str, Any]) -> tuple[str, str]:
        """(account reference, origin) where origin is guest, mapped, or generated."""
        key = customer_key(order)
        if key is None:
            return self.settings.guest_account, "guest"
        email = (order.get("customer_email") or "").lower()
        if email in self.mapped_by_email:
            return self.mapped_by_email[email], "mapped"
        if key in self.remembered:
            return self.remembered[key], "generated"
        ref = self._generate(order)
        self.remembered[key] = ref
        self.taken.add(ref)
        self.new.append((key, ref, "generated"))
        return ref, "generated"

    def _generate(self, order: Mapping[str, Any]) -> str:
        if self.settings.account_ref == "id":
            ref = f"W{int(order['customer_id']):07d}"
            if len(ref) <= 8 and ref not in self.taken:
                return ref
        base = _base_from_name(order)
        for width in (2, 3, 4):
            stem = base[: 8 - width]
            start = self.next_number.get((stem, width), 1)
            for n in range(start, 10**width):
                ref = f"{stem}{n:0{width}d}"
                if ref not in self.taken:
                    self.next_number[(stem, width)] = n + 1
                    return ref
            self.next_number[(stem, width)] = 10**width
        raise RuntimeError("no free account reference")  # pragma: no cover - 10^4 per stem
