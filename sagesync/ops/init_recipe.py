"""Write a new site's starting files: a commented recipe, a `.env` of placeholders, and the
mapping CSVs with their headers, for `sagesync init`.

The recipe is valid as written (load_recipe accepts it once the `.env` is filled in) and holds
no secret: every credential is a `${VAR}` whose value lives in `.env`. When the store could be
read, its store views and the tax rates Magento uses are written in for the person to map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sagesync.errors import UsageError
from sagesync.magento.probe import StoreView, TaxRate, percent_text
from sagesync.sage import products

#: The `.env` variable of each credential setting, per [magento] auth kind.
AUTH_VARIABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "bearer": (("token", "MAGENTO_TOKEN"),),
    "oauth1": (("consumer_key", "MAGENTO_CONSUMER_KEY"),
               ("consumer_secret", "MAGENTO_CONSUMER_SECRET"),
               ("access_token", "MAGENTO_ACCESS_TOKEN"),
               ("access_token_secret", "MAGENTO_ACCESS_TOKEN_SECRET")),
    "admin": (("username", "MAGENTO_USERNAME"), ("password", "MAGENTO_PASSWORD")),
    "ims": (("client_id", "MAGENTO_CLIENT_ID"), ("client_secret", "MAGENTO_CLIENT_SECRET"),
            ("org_id", "MAGENTO_ORG_ID")),
}
AUTH_HELP = {
    "bearer": "an integration's access token (System > Extensions > Integrations), used as "
              "a bearer token",
    "oauth1": "an integration's four OAuth 1.0a values (System > Extensions > Integrations)",
    "admin": "an admin user's name and password (the token is renewed every 4 hours)",
    "ims": "Adobe Commerce as a Cloud Service: an IMS server-to-server credential",
}
CSV_HEADERS = {
    "nominals.csv": "kind,value,nominal",
    "customers.csv": "email,account_ref",
    "items.csv": "sku,item_code,warehouse",
}


@dataclass(frozen=True)
class Answers:
    """What the person chose (or the flags said)."""

    product: str
    store_url: str
    auth: str
    zone: str
    name: str = "shop"
    store_views: tuple[StoreView, ...] = ()
    tax_rates: tuple[TaxRate, ...] = ()
    store_read: bool = False  # the store answered: its views and rates are in
    notes: list[str] = field(default_factory=list)


def posts_item_lines(product: str) -> bool:
    """Whether the product's files carry Sage item codes (so items.csv is needed)."""
    found = products.get(product)
    return any("item_code" in found.template_file(name).read_text("utf-8")
               for name in found.templates)


def files_for(answers: Answers) -> dict[str, str]:
    """File name -> its text, for every file init writes."""
    texts = {"sagesync.toml": recipe_text(answers), ".env": env_text(answers)}
    for name, header in CSV_HEADERS.items():
        if name != "items.csv" or posts_item_lines(answers.product):
            texts[f"mapping/{name}"] = header + "\n"
    return texts


def write_files(folder: Path, answers: Answers, *, force: bool = False) -> list[Path]:
    """Write the files into `folder`; refuses (UsageError naming them) to overwrite any
    existing one unless `force`."""
    texts = files_for(answers)
    existing = [folder / name for name in texts if (folder / name).exists()]
    if existing and not force:
        raise UsageError("init would overwrite " + ", ".join(str(p) for p in existing)
                         + "; move them away or pass --force.")
    written = []
    for name, text in texts.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def env_text(answers: Answers) -> str:
    lines = ["# Secrets for sagesync.toml: fill in each value. Keep this file out of version",
             "# control and readable only by the user sagesync runs as. The environment wins",
             "# over this file. `sagesync doctor` says which are still missing.",
             f"# [magento] auth = \"{answers.auth}\": {AUTH_HELP[answers.auth]}."]
    lines += [f"{variable}=" for _, variable in AUTH_VARIABLES[answers.auth]]
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'



def _c(code: str, comment: str) -> str:
    """A line of TOML with its comment in the recipe's comment column."""
    return f"{code:<41} # {comment}" if comment else code


def recipe_text(answers: Answers) -> str:
    product = products.get(answers.product)
    caps = product.capabilities
    out: list[str] = [
        f"# sagesync recipe for {product.title}, written by `sagesync init`.",
        "# Check it with `sagesync doctor -r sagesync.toml`; every key is described in the",
        "# README's recipe reference. Secrets live in .env beside this file, never here.",
        f"name = {_q(answers.name)}",
        _c('state_dir = "state"', "ledger, checkpoints, logs, quarantine"),
        "",
        "[magento]",
        f"base_url = {_q(answers.store_url)}",
        _c(f'auth = "{answers.auth}"', AUTH_HELP[answers.auth].split(" (")[0]),
    ]
    if answers.auth == "admin":
        out.append("# the admin token is asked for at base_url + /V1/integration/admin/token")
    out += [f"{setting} = \"${{{variable}}}\"" for setting, variable in
            AUTH_VARIABLES[answers.auth]]
    out += _store_ids(answers)
    out += ["page_size = 100", "",
            "[sage]", f'product = "{answers.product}"',
            _c(f'post_from = "{caps.post_from[0]}"',
               'or "orders": which Magento document is posted' if len(caps.post_from) > 1
               else "the one document this product posts from"),
            _c(f"timezone = {_q(answers.zone)}", "the dates Sage gets; Magento's are UTC")]
    if not caps.contra_documents:
        out.append(_c("negative_amounts = true", "credits are negative lines in this product"))
    out += ["", "[mapping]",
            _c('nominals_csv = "mapping/nominals.csv"', "kind,value,nominal; kind: sku, "
               "sku_prefix, category"),
            _c('customers_csv = "mapping/customers.csv"', "email,account_ref: customers "
               "Sage knows")]
    if posts_item_lines(answers.product):
        out.append(_c('items_csv = "mapping/items.csv"', "sku,item_code[,warehouse]"))
    out += _tax_codes(answers)
    out += ["", "[delivery]", 'kind = "folder"',
            _c('path = "outbox"', "the folder Sage imports from"),
            "", "[ledger]", _c("keep_days = 30", "checkpoints older than this are removed"),
            "",
            "[schedule]",
            _c('every = "15m"', "see `sagesync schedule sagesync.toml`"), ""]
    return "\n".join(out)


def _store_ids(answers: Answers) -> list[str]:
    if not answers.store_views:
        return [_c("store_ids = []", "[] = every store view; list ids to choose")]
    ids = ", ".join(str(v.id) for v in answers.store_views)
    lines = [_c(f"store_ids = [{ids}]", "the store's views; keep those of this Sage company:")]
    lines += [f"#   {v.id} = {v.name} ({v.code}, website {v.website_id})"
              for v in answers.store_views]
    return lines


def _tax_codes(answers: Answers) -> list[str]:
    """`[mapping.tax_codes]`: the store's rates, each with the product's code for it where the
    product has one; a rate it has none for is written commented out, to be mapped."""
    own = products.get(answers.product).capabilities.mapping_defaults.get("tax_codes")
    table: dict[str, str] = own if isinstance(own, dict) else _SAGE50_UK_CODES
    defaults = {Decimal(k).normalize(): v for k, v in table.items()}
    rates: dict[Decimal, list[str]] = {}
    for tax in answers.tax_rates:
        rates.setdefault(tax.rate.normalize(), []).append(
            f"{tax.code} ({tax.country})" if tax.country else tax.code)
    if not answers.store_read:
        if not defaults:
            return ['# tax_codes = { "20" = "..." }   # Magento rate (%) -> Sage tax code']
        shown = ", ".join(f'"{percent_text(r)}" = {_q(c)}' for r, c in defaults.items())
        return [f"tax_codes = {{ {shown} }}",
                "# ^ Magento rate (%) -> Sage tax code: check each against Sage's codes"]
    lines = ["", _c("[mapping.tax_codes]", "Magento tax rate (%) = Sage tax code"),
             "# The rates below are the store's (Stores > Tax Zones and Rates). Check each code",
             "# against Sage; a rate left commented out holds its documents until mapped."]
    if not rates:
        rates = {rate: [] for rate in defaults}
    for rate, names in sorted(rates.items()):
        where = ", ".join(sorted(set(names))[:4]) or "the product's default"
        code = defaults.get(rate)
        if code is not None:
            lines.append(_c(f'"{percent_text(rate)}" = {_q(code)}', where))
        else:
            lines.append(f'# "{percent_text(rate)}" = ""   # {where}: put the Sage tax code '
                         "here and remove the #")
    if not any(not line.startswith("#") and line.strip() for line in lines[2:]):
        # none has a code yet: an empty table is not allowed, so the product's defaults
        # stay in force until one is uncommented (and the header with it)
        lines[1] = "# " + lines[1]
    return lines


#: Sage 50 UK's codes, which MappingSettings has by default (its product lists none).
_SAGE50_UK_CODES = {"20": "T1", "5": "T5", "0": "T0"}


def valid_name(text: str) -> str:
    """A recipe name from a folder name: letters, digits, '-' and '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "shop"
