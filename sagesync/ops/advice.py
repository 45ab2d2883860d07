"""What a person runs to fix a record that waits for them, by cause: one place, so `status`,
the alerts and the daily digest suggest the same commands.

A cause (model.holds code, or the record state `amended`) maps to a sentence and commands
with the record keys filled in. Holds set by validation are validated again by every run, so
their advice is to fix the recipe or mapping; `retry` only speeds that up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# Causes a person settles in Sage by hand: the import cannot carry them.
_BY_HAND = ("unit_price_not_exact", "too_many_lines", "no_credit_notes")
# Causes that hold until the recipe or its mapping changes (every run validates them again).
_MAPPING = ("missing_tax_rate", "unmapped_tax_rate", "unmapped_payment_nominal",
            "extra_amount_other_currency", "tax_matches_no_rate", "does_not_balance",
            "negative_split", "unmapped_item", "negative_amount", "amount_too_large",
            "negative_total", "rows_do_not_make_total", "template_rule_broken",
            "account_not_writable", "no_exchange_rate", "unknown_order_item",
            "no_created_at")


def _prefix(recipe_path: Path | str | None) -> str:
    return f"sagesync -r {recipe_path}" if recipe_path else "sagesync"


def fix_commands(code: str, keys: Sequence[str], recipe_path: Path | str | None = None,
                 *, state: str = "held") -> tuple[str, list[str]]:
    """(what to do, the commands) for records of one cause. `keys` are record keys as status
    prints them (the first few are named); `state` is theirs (held, needs_attention,
    amended)."""
    run = _prefix(recipe_path)
    named = " ".join(keys[:5]) or "KEY"
    first = keys[0] if keys else "KEY"
    trace = f"{run} trace {first}"
    if state == "amended":
        return ("changed or cancelled in Magento after it reached Sage: correct it in Sage, "
                "then close it", [trace, f'{run} resolve {named} --note "what was done in '
                                  'Sage"'])
    if code == "held_by_person":
        return ("put on hold by a person: release it when it may go to Sage",
                [f"{run} release {named}"])
    if code in ("may_have_reached_sage", "sage_answers_disagree"):
        return ("check Sage for it: retry the ones Sage does not have, resolve the ones it has",
                [trace, f"{run} retry {named}",
                 f'{run} resolve {named} --note "found in Sage"'])
    if code == "cancelled_needing_attention":
        return ("cancelled in Magento while it waited: if Sage holds it, reverse it there; "
                "then close it", [trace, f'{run} resolve {named} --note "reversed in Sage"'])
    if code in _BY_HAND:
        return ("the import cannot carry it: enter it in Sage by hand, then close it",
                [trace, f'{run} resolve {named} --note "entered by hand"'])
    if code == "rejected_by_sage":
        return ("Sage refused it: fix the cause Sage gave (in Sage or the recipe), then send "
                "it again", [trace, f"{run} retry {named}"])
    if code == "reference_collision":
        return ("two documents share a Sage reference: give each store its own [sage] "
                "reference_prefixes (the next run sends it), or enter it by hand and hold it",
                [trace, f"{run} hold {named}"])
    if code == "order_not_exported":
        return ("its order is outside the exported window: export a window that includes "
                "the order", [trace, f"{run} export-orders --since YYYY-MM-DD"])
    if code in _MAPPING:
        return ("fix the recipe or its mapping: the next run validates it again (retry sends "
                "it at once)", [trace, f"{run} retry {named}"])
    what = "read its reason, fix it, then send it again"
    return (what, [trace, f"{run} retry {named}"])
