"""Say why a quantity or price cell is not a plain decimal number, in words a bookkeeper acts on.

Only cells that failed the fast vectorised check come here, so this can be slow and specific:
it recognises what Excel and European locales do to numbers (reference §9).
"""

from __future__ import annotations

import re

PLAIN = r"^[+-]?(\d{1,14}(\.\d{0,10})?|\d{0,14}\.\d{1,10})$"
COMMA = r"^[+-]?(\d{1,3}(\.\d{3}){1,4}|\d{1,14})(,\d{0,10})?$|^[+-]?,\d{1,10}$"
SCIENTIFIC = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"

_EXCEL_ERRORS = {"#n/a", "#value!", "#ref!", "#div/0!", "#num!", "#name?", "#null!", "#####"}
_NOT_FINITE = {"nan", "inf", "infinity", "snan"}
_PLAIN_HINT = "write plain numbers such as 1234.5"


def explain_number(text: str, decimal_comma: bool) -> str:
    """Why `text` is not accepted as a number (it already failed PLAIN, or COMMA if set)."""
    t = text.strip()
    if "\n" in t or "\r" in t:
        return (f"{t!r} contains a line break: a quote (\") earlier in the row is probably "
                "never closed")
    low = t.casefold()
    if low in _EXCEL_ERRORS:
        return f"{t!r} is an Excel error value, not a number"
    if low.lstrip("+-") in _NOT_FINITE:
        return f"{t!r} is not a number (NaN and infinity are refused)"
    if re.fullmatch(SCIENTIFIC, t):
        return (f"{t!r} is in scientific notation: Excel shortened the number; format the "
                "column as Number or Text and export again")
    if re.search(r"[£$€¥]|\b(GBP|EUR|USD)\b", t):
        return f"{t!r} has a currency symbol: {_PLAIN_HINT}"
    if re.fullmatch(r"\(\s*[\d.,]+\s*\)", t):
        return f"{t!r} is a negative number in brackets (accounting format): {_PLAIN_HINT}"
    if re.fullmatch(r"[\d.,]+\s*-", t):
        return f"{t!r} has a trailing minus sign: {_PLAIN_HINT}"
    if re.fullmatch(r"[+-]?[\d.,]+\s*%", t):
        return f"{t!r} is a percentage, not a quantity or price"
    if re.fullmatch(r"[+-]?\d{1,3}([ \u00a0\u202f']\d{3})+([.,]\d+)?", t):
        return f"{t!r} has spaces or apostrophes as thousands separators: {_PLAIN_HINT}"
    if not decimal_comma:
        if re.fullmatch(r"[+-]?\d{1,3},\d{3}", t):
            return (f"{t!r} has a comma: a thousands separator or a decimal comma? {_PLAIN_HINT} "
                    "(no thousands separators), or set decimal_comma if commas are decimal points")
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", t):
            return f"{t!r} has a thousands separator: {_PLAIN_HINT} with no separators"
        if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d*", t) or re.fullmatch(r"[+-]?\d*,\d+", t):
            return (f"{t!r} has a decimal comma (European format): export with a decimal point, "
                    "or set decimal_comma = true in the recipe")
    else:
        if re.fullmatch(r"[+-]?\d+\.\d+", t):
            return (f"{t!r} has a decimal point but the recipe says decimals are written with a "
                    "comma (decimal_comma): write 1234,5 or unset decimal_comma")
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", t):
            return f"{t!r} is in the 1,234.56 format but decimal_comma is set: write 1234,56"
    digits = re.fullmatch(r"[+-]?(\d*)(?:[.,](\d*))?", t)
    if digits and (len(digits.group(1)) > 14 or len(digits.group(2) or "") > 10):
        return f"{t!r} is too long: at most 14 digits before and 10 after the decimal point"
    return f"{t!r} is not a number: {_PLAIN_HINT}"
