"""The bench recipe: recipes/demo.toml's [sage] and [mapping], the generated pages as source."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parent.parent / "recipes" / "demo.toml"
_PATH_KEYS = ("nominals_csv", "customers_csv", "templates")


def toml_value(value: Any) -> str:
    """A Python value as TOML (the conformance tests write their recipes with it too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _table(name: str, values: dict[str, Any]) -> list[str]:
    return [f"[{name}]", *(f"{key} = {toml_value(value)}" for key, value in values.items()), ""]


def write_recipe(path: Path, source: Path, state_dir: Path, demo: Path = DEMO) -> Path:
    """Write the recipe to `path`: absolute paths only, so it can live anywhere."""
    with demo.open("rb") as handle:
        base = tomllib.load(handle)
    sections: dict[str, dict[str, Any]] = {}
    for name in ("sage", "mapping"):
        section = dict(base.get(name, {}))
        for key in _PATH_KEYS:
            if key in section:
                section[key] = str((demo.parent / section[key]).resolve())
        sections[name] = section
    lines = ["# Written by `python -m bench`: generated pages in, a throw-away state folder.",
             'name = "bench"', f"state_dir = {toml_value(str(state_dir))}", ""]
    lines += _table("magento", {"source": str(source), "store_ids": []})
    lines += _table("sage", sections["sage"])
    lines += _table("mapping", sections["mapping"])
    lines += _table("delivery", {"kind": "folder", "path": str(state_dir / "outbox")})
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
