"""What Sage owns of a Magento customer, and the change it makes to one.

Sage owns the account: its price level or band (a Magento customer group through the recipe's
`[customers] groups`), its on-hold / credit status (a customer attribute the recipe names) and,
when the recipe says so, its address. Magento owns the rest (login, names, newsletter...), so a
change starts from the whole customer as Magento has it and touches only those fields: what
`PUT /V1/customers/{id}` needs, since it replaces the customer with what it is sent.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ADDRESS_FIELDS = ("street1", "street2", "town", "county", "postcode", "country", "telephone")


@dataclass(frozen=True)
class Wanted:
    """What Sage says one customer should have; None = Sage does not say (no change)."""

    account: str
    group_id: int | None = None
    on_hold: bool | None = None
    address: Mapping[str, str] | None = None  # only when Sage owns addresses

    def fingerprint(self) -> str:
        """What the ledger keeps of a push: equal texts, nothing to send again."""
        return json.dumps({"account": self.account, "group_id": self.group_id,
                           "on_hold": self.on_hold,
                           "address": dict(self.address) if self.address else None},
                          sort_keys=True, ensure_ascii=False)

    @staticmethod
    def group_of(fingerprint: str | None) -> int | None:
        """The group a recorded push set (None: none, or nothing recorded)."""
        if not fingerprint:
            return None
        try:
            value = json.loads(fingerprint).get("group_id")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class Change:
    what: str  # group, hold attribute code, address
    old: str
    new: str


def wanted_of(row: Mapping[str, Any], groups: Mapping[str, int], *,
              sage_addresses: bool) -> tuple[Wanted, str | None]:
    """The wanted state of a parsed Sage customer row, and its price level when the recipe's
    `groups` has no group for it (then the group is left as it is)."""
    level = (row.get("price_level") or "").strip()
    group = groups.get(level.upper()) if level else None
    address = None
    if sage_addresses and any(row.get(name) for name in ADDRESS_FIELDS):
        address = {name: str(row[name]) for name in ADDRESS_FIELDS if row.get(name)}
    return (Wanted(row["account"], group, row.get("on_hold"), address),
            level if level and group is None else None)


def _attribute(customer: Mapping[str, Any], code: str) -> str | None:
    for item in customer.get("custom_attributes") or []:
        if isinstance(item, dict) and item.get("attribute_code") == code:
            value = item.get("value")
            return None if value is None else str(value)
    return None


def _default_billing(customer: dict[str, Any]) -> dict[str, Any] | None:
    addresses = customer.get("addresses") or []
    wanted = str(customer.get("default_billing") or "")
    for address in addresses:
        if isinstance(address, dict) and (address.get("default_billing")
                                          or str(address.get("id")) == wanted):
            return address
    return None


def _address_text(address: Mapping[str, Any] | None) -> str:
    if not address:
        return ""
    region = address.get("region")
    region_text = region.get("region") if isinstance(region, dict) else region
    parts = [*(address.get("street") or []), address.get("city"), region_text,
             address.get("postcode"), address.get("country_id"), address.get("telephone")]
    return ", ".join(str(p) for p in parts if p)


def _set_address(customer: dict[str, Any], wanted: Mapping[str, str]) -> Change | None:
    """Sage's address into the default billing address (added when there is none)."""
    current = _default_billing(customer)
    before = _address_text(current)
    address = copy.deepcopy(current) if current else {
        "firstname": customer.get("firstname") or "", "lastname": customer.get("lastname") or "",
        "default_billing": True, "default_shipping": not customer.get("addresses"),
        "street": [], "telephone": "", "city": "", "postcode": "", "country_id": ""}
    if "street1" in wanted or "street2" in wanted:
        address["street"] = [s for s in (wanted.get("street1"), wanted.get("street2")) if s]
    for name, key in (("town", "city"), ("postcode", "postcode"), ("country", "country_id"),
                      ("telephone", "telephone")):
        if name in wanted:
            address[key] = wanted[name].upper() if key == "country_id" else wanted[name]
    if "county" in wanted:
        region = address.get("region") if isinstance(address.get("region"), dict) else {}
        if (region or {}).get("region") != wanted["county"]:
            address["region"] = {"region": wanted["county"], "region_code": wanted["county"],
                                 "region_id": 0}
            address["region_id"] = 0
    after = _address_text(address)
    if after == before:
        return None
    if current is None:
        customer.setdefault("addresses", []).append(address)
    else:
        customer["addresses"] = [address if a is current else a for a in customer["addresses"]]
    return Change("address", before, after)


def apply(customer: Mapping[str, Any], wanted: Wanted, hold_attribute: str | None
          ) -> tuple[dict[str, Any], list[Change]]:
    """The customer with Sage's values, and what changed (empty: nothing to send)."""
    new = copy.deepcopy(dict(customer))
    changes: list[Change] = []
    if wanted.group_id is not None and new.get("group_id") != wanted.group_id:
        changes.append(Change("group", str(new.get("group_id", "")), str(wanted.group_id)))
        new["group_id"] = wanted.group_id
    if hold_attribute and wanted.on_hold is not None:
        value = "1" if wanted.on_hold else "0"
        old = _attribute(new, hold_attribute)
        if old != value:
            changes.append(Change(hold_attribute, old or "", value))
            others = [a for a in new.get("custom_attributes") or []
                      if not (isinstance(a, dict) and a.get("attribute_code") == hold_attribute)]
            new["custom_attributes"] = [*others,
                                        {"attribute_code": hold_attribute, "value": value}]
    if wanted.address:
        moved = _set_address(new, wanted.address)
        if moved:
            changes.append(moved)
    return new, changes


@dataclass
class GroupGuard:
    """More than `max_share` % of the compared customers moving group at once looks like a
    shifted column in the export, not a decision: refused unless forced."""

    compared: int = 0
    moves: list[tuple[str, int, int]] = field(default_factory=list)  # (account, old, new)
    tripped: bool = False

    def reason(self, max_share: Decimal) -> str:
        return (f"{len(self.moves)} of {self.compared} customers would change customer group "
                f"(the guard allows {max_share}%); nothing was pushed. Check the Sage export's "
                "price level column and [customers] groups, then push with --force.")


def check_groups(moves: Mapping[str, tuple[int | None, int | None]], max_share: Decimal
                 ) -> GroupGuard:
    """`moves`: account -> (group pushed before, group wanted now); only customers with a
    group pushed before and one wanted now are compared."""
    guard = GroupGuard()
    for account, (old, new) in moves.items():
        if old is None or new is None:
            continue
        guard.compared += 1
        if old != new:
            guard.moves.append((account, old, new))
    share = Decimal(len(guard.moves) * 100) / guard.compared if guard.compared else Decimal(0)
    guard.tripped = bool(guard.moves) and share > max_share
    return guard
