"""Words for counts, so messages read right: "1 problem", "2 problems"."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and the noun in the number it needs (`many`: an irregular plural)."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def nouns(count: int, noun: str, many: str | None = None) -> str:
    """The noun alone, in the number `count` needs ("missing columns 'A', 'B'")."""
    return noun if count == 1 else many or noun + "s"
