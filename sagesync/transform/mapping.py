"""Recipe mapping tables read from the user's CSV files: nominal codes and customer accounts.

Nominal rules (`[mapping] nominals_csv`), header `kind,value,nominal`, first match wins in this
order: `sku` (exact), `sku_prefix` (longest prefix), then the default sales nominal.
Customer accounts (`[mapping] customers_csv`), header `email,account_ref`: web customers who
already have a Sage account.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from sagesync.errors import RecipeError

NOMINAL_KINDS = ("sku", "sku_prefix")
_NOMINAL = re.compile(r"[A-Za-z0-9]{1,8}")
_ACCOUNT = re.compile(r"[A-Z0-9]{1,8}")


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise RecipeError(f"{path}: line 1: missing column(s) {', '.join(missing)}; "
                                  f"the header must be {','.join(required)}.")
            return [(n, {k: (v or "").strip() for k, v in row.items() if k})
                    for n, row in enumerate(reader, start=2)]
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") \
            from None
    except OSError as exc:
        raise RecipeError(f"Cannot read {path}: {exc.strerror}") from None


@dataclass
class NominalMap:
    """SKU -> Sage nominal code."""

    default: str
    by_sku: dict[str, str] = field(default_factory=dict)
    by_prefix: list[tuple[str, str]] = field(default_factory=list)  # longest prefix first

    @classmethod
    def load(cls, path: Path | None, default: str) -> NominalMap:
        nominal_map = cls(default=default)
        if path is None:
            return nominal_map
        for line, row in read_csv_rows(path, ("kind", "value", "nominal")):
            kind, value, nominal = row["kind"], row["value"], row["nominal"]
            if kind not in NOMINAL_KINDS:
                raise RecipeError(f"{path}: line {line}, column kind: '{kind}' is not one of "
                                  f"{', '.join(NOMINAL_KINDS)}.")
            if not value:
                raise RecipeError(f"{path}: line {line}, column value: empty.")
            if not _NOMINAL.fullmatch(nominal):
                raise RecipeError(f"{path}: line {line}, column nominal: '{nominal}' is not a "
                                  "Sage nominal code (1 to 8 letters or digits).")
            if kind == "sku":
                nominal_map.by_sku[value] = nominal
            else:
                nominal_map.by_prefix.append((value, nominal))
        nominal_map.by_prefix.sort(key=lambda pair: -len(pair[0]))
        return nominal_map

    def nominal_for(self, sku: str | None) -> str:
        if sku:
            found = self.by_sku.get(sku)
            if found:
                return found
            for prefix, nominal in self.by_prefix:
                if sku.startswith(prefix):
                    return nominal
        return self.default


def load_customer_accounts(path: Path | None) -> dict[str, str]:
    """Email (lower case) -> existing Sage account reference."""
    if path is None:
        return {}
    accounts: dict[str, str] = {}
    for line, row in read_csv_rows(path, ("email", "account_ref")):
        ref = row["account_ref"].upper()
        if not _ACCOUNT.fullmatch(ref):
            raise RecipeError(f"{path}: line {line}, column account_ref: '{row['account_ref']}' "
                              "is not a Sage account reference (1 to 8 letters or digits).")
        accounts[row["email"].lower()] = ref
    return accounts
