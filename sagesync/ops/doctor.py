"""`sagesync doctor`: every reason a recipe would fail, found before the first run.

Each check is a line: ok, FAIL (with what to do) or skip (with why). The checks that need the
store or its secrets come last and are skipped, not failed, when an earlier check already
says why they cannot run. Secret values are never part of a check's text: only their names.
"""

from __future__ import annotations

import os
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from sagesync.errors import SageSyncError
from sagesync.magento.answers import explain_401
from sagesync.magento.connect import magento_auth
from sagesync.magento.probe import ENDPOINTS, Answer, StoreReader, percent, percent_text
from sagesync.pipeline.lock import prepare_state_dir
from sagesync.recipe import Recipe, load_recipe, variables_used
from sagesync.render.spec import load_spec, read_spec
from sagesync.sage import products
from sagesync.transform.mapping import ItemMap, NominalMap, load_customer_accounts

#: Stands in for an unset variable while the recipe's keys are checked (never sent anywhere).
STAND_IN = "unset-placeholder"
RECENT_ORDERS = 100


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "FAIL" or "skip"
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def fail(name: str, detail: str) -> Check:
    return Check(name, "FAIL", detail)


def skip(name: str, detail: str) -> Check:
    return Check(name, "skip", detail)


def diagnose(path: Path, *, state_dir: Path | None = None,
             reader: StoreReader | None = None) -> list[Check]:
    """Run every check on the recipe at `path` (`state_dir`: --state-dir over the recipe's;
    `reader`: a store session to use instead of the recipe's)."""
    checks: list[Check] = []
    try:
        used = variables_used(path)
    except SageSyncError as error:
        return [fail("recipe", str(error))]
    missing = _variable_checks(path, used, checks)
    try:
        recipe = load_recipe(path, stand_ins=dict.fromkeys(missing, STAND_IN))
    except SageSyncError as error:
        checks.insert(0, fail("recipe", f"{error} Fix that key and run doctor again."))
        return checks
    checks.insert(0, ok("recipe", f"{path}: every key is valid"))
    if state_dir is not None:
        recipe = replace(recipe, state_dir=state_dir.resolve())
    checks.append(_state_check(recipe))
    checks.append(delivery_check(recipe))
    checks.append(_mapping_check(recipe))
    checks.append(_template_check(recipe))
    checks.extend(_magento_checks(recipe, path, missing, reader))
    return checks


def _variable_checks(path: Path, used: dict[str, list[str]], checks: list[Check]) -> list[str]:
    """One line per ${VAR}: set, or not (named, with where to set it). The missing names."""
    env_file = path.parent / ".env"
    from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None} \
        if env_file.is_file() else {}
    missing = []
    for name, keys in sorted(used.items()):
        where = ", ".join(sorted(set(keys)))
        value = os.environ.get(name, from_file.get(name))
        if value is None or not value.strip():
            missing.append(name)
            state = "is empty" if value is not None else "is not set"
            checks.append(fail(f"${{{name}}}", f"{name} (used by {where}) {state}: put "
                               f"{name}=... in {env_file} or the environment"))
        else:
            checks.append(ok(f"${{{name}}}", f"set (used by {where})"))
    return missing


def _state_check(recipe: Recipe) -> Check:
    try:
        prepare_state_dir(recipe.state_dir)
    except SageSyncError as error:
        return fail("state folder", str(error))
    return ok("state folder", f"{recipe.state_dir} can be written")


def _folder_delivery(recipe: Recipe) -> Check:
    folder = recipe.delivery.path or recipe.state_dir / "outbox"
    probe = folder / ".sagesync-doctor"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"sagesync")
        probe.unlink()
    except OSError as error:
        return fail("delivery", f"cannot write to {folder} ({error.strerror or error}): create "
                    "it, or give this user write access, or change [delivery] path")
    return ok("delivery", f"{folder} can be written")


#: [delivery] kind -> its check. A kind added later (SFTP: reachable, host key known) adds
#: its own line here; a kind with none is reported as skipped, never as passed.
DELIVERY_CHECKS: dict[str, Callable[[Recipe], Check]] = {"folder": _folder_delivery}


def delivery_check(recipe: Recipe) -> Check:
    found = DELIVERY_CHECKS.get(recipe.delivery.kind)
    if found is None:
        return skip("delivery", f"doctor has no check for [delivery] kind = "
                    f"\"{recipe.delivery.kind}\" yet")
    return found(recipe)


def _mapping_check(recipe: Recipe) -> Check:
    m = recipe.mapping
    caps = products.get(recipe.sage.product, recipe.sage.region).capabilities
    try:
        nominals = NominalMap.load(m.nominals_csv, m.default_sales_nominal, m.products_csv,
                                   caps)
        accounts = load_customer_accounts(m.customers_csv, caps)
        items = ItemMap.load(m.items_csv, m.unmapped_items, m.default_item,
                             m.default_warehouse)
    except SageSyncError as error:
        return fail("mapping files", f"{error} Fix the file and run doctor again.")
    rules = len(nominals.by_sku) + len(nominals.by_prefix) + len(nominals.by_category) \
        + len(nominals.by_attribute_set)
    return ok("mapping files", f"{rules} nominal rules, {len(accounts)} customer accounts, "
              f"{len(items.items)} items")


def _template_check(recipe: Recipe) -> Check:
    product = products.get(recipe.sage.product, recipe.sage.region)
    own = recipe.sage.templates
    try:
        for name in product.templates:
            load_spec(product.key, name, own, recipe.sage.region)
        extra = sorted(p for p in own.glob("*.toml") if p.stem not in product.templates) \
            if own else []
        for path in extra:
            read_spec(path)
    except SageSyncError as error:
        return fail("templates", f"{error} Fix the template (see the README's Templates).")
    where = f" (with {own})" if own else ""
    return ok("templates", ", ".join(product.templates) + f" load{where}")


def _flows(sections: set[str]) -> list[str]:
    """The endpoints the recipe's steps call, from the sections it has."""
    catalog = [name for section, name in (("stock", "stock (source items)"),
                                          ("prices", "prices")) if section in sections]
    sales = ["orders", "invoices", "creditmemos", "customers"]
    if catalog and not sections & {"mapping", "delivery"}:
        return catalog
    return sales + catalog


def _magento_checks(recipe: Recipe, path: Path, missing: list[str],
                    reader: StoreReader | None) -> list[Check]:
    base_url = recipe.magento.base_url
    if base_url is None:
        source = recipe.magento.source
        if source is not None and any(source.glob("*/page-*.json")):
            return [ok("magento", f"saved pages in {source} (no live store to check)")]
        return [fail("magento", f"[magento] source {source} holds no saved Magento pages "
                     "(<entity>/page-*.json)")]
    if missing:
        return [skip("magento", "not asked: set " + ", ".join(missing) + " first")]
    if reader is None:
        try:
            reader = StoreReader(base_url, magento_auth(recipe, base_url),
                                 timeout=min(recipe.magento.timeout_seconds, 30.0))
        except SageSyncError as error:
            return [fail("magento", str(error))]
    sections = _sections(path)
    answers = {name: reader.ask(name) for name in _flows(sections)}
    first = next(iter(answers.values()))
    if first.status == 0:
        return [fail("magento", f"{first.message}. Check [magento] base_url and that this "
                     "machine can reach the store (proxy, firewall)")]
    if all(a.status == 401 for a in answers.values()):
        return [fail("credentials", f"Magento refused them (401): {first.message}. "
                     + explain_401(first.message, recipe.magento.auth))]
    checks = [ok("magento", f"{base_url} answers"), ok("credentials", "accepted")]
    checks += [_access_line(name, answer, recipe.magento.auth)
               for name, answer in answers.items()]
    if recipe.magento_updates.enabled:  # only a POST asks it, and a POST would write one
        checks.append(skip("access: order comments", "POST /V1/orders/{id}/comments is not "
                           "tried (it would add a comment): grant Magento_Sales::comment for "
                           "[magento_updates]"))
    orders = answers.get("orders")
    if orders is not None:
        checks.append(_tax_rate_check(recipe, reader) if orders.status == 200 else
                      skip("tax rates", "recent orders cannot be read (see above)"))
    if "customers" in sections:
        checks += _customer_master_checks(recipe, reader)
    return checks


def _sections(path: Path) -> set[str]:
    try:
        return set(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return set()


def _customer_master_checks(recipe: Recipe, reader: StoreReader) -> list[Check]:
    """What `[customers]` names in Magento for a Sage customer export's push: the on-hold
    attribute (a custom attribute Magento Open Source only gets from a module) and each
    group the price bands map to. The push's own write is not tried."""
    settings = recipe.customers
    checks: list[Check] = []
    code = settings.hold_attribute
    if code:
        answer = reader.request("GET", f"/V1/attributeMetadata/customer/attribute/{code}",
                                "Magento_Customer::customer")
        if answer.status == 200 and isinstance(answer.body, dict):
            label = answer.body.get("frontend_label") or code
            kind = answer.body.get("frontend_input") or "?"
            checks.append(ok("customer attribute", f'{code} exists ("{label}", {kind})'))
        elif answer.status == 404:
            checks.append(fail("customer attribute", f"[customers] hold_attribute = \"{code}\""
                               " is not a customer attribute in Magento: create it (Stores > "
                               "Attributes > Customer in Adobe Commerce; a module's data patch "
                               "in Magento Open Source), or correct the code"))
        else:
            checks.append(_access_line("customer attribute", answer, recipe.magento.auth,
                                       "GET /V1/attributeMetadata/customer/attribute/{code}"))
    missing: list[int] = []
    found: list[str] = []
    for group_id in sorted(set(settings.groups.values())):
        answer = reader.request("GET", f"/V1/customerGroups/{group_id}", "Magento_Customer::group")
        if answer.status == 200 and isinstance(answer.body, dict):
            found.append(f"{group_id} {answer.body.get('code', '')}".strip())
        elif answer.status == 404:
            missing.append(group_id)
        else:
            checks.append(_access_line("customer groups", answer, recipe.magento.auth,
                                       "GET /V1/customerGroups/{id}"))
            break
    else:
        if missing:
            checks.append(fail("customer groups", "[customers] groups name group ids Magento "
                               f"does not have: {', '.join(map(str, missing))} (Customers > "
                               "Customer Groups lists each group's ID)"))
        elif found:
            checks.append(ok("customer groups", "all exist: " + ", ".join(found)))
    checks.append(skip("access: customer updates", "PUT /V1/customers/{id} is not tried (it "
                       "would write a customer): grant Magento_Customer::manage for "
                       "customer pushes"))
    return checks


def _access_line(name: str, answer: Answer, auth: str, call: str = "") -> Check:
    """A probe's answer as a check: allowed, refused (naming the ACL resource to grant),
    no such route, or no answer. `call` for a probe that is not one of ENDPOINTS."""
    if call:
        label, resource = name, answer.resource
    else:
        method, endpoint, resource = ENDPOINTS[name]
        call, label = f"{method} {endpoint}", f"access: {name}"
    if answer.refused:
        granted = {"bearer": "the integration's", "oauth1": "the integration's",
                   "admin": "the admin user's role", "ims": "the IMS credential's role"}
        return fail(label, f"{call} refused ({answer.status}): the credentials lack the ACL "
                    f"resource {answer.resource or resource}; grant it in "
                    f"{granted.get(auth, 'their')} resource access "
                    "(System > Extensions > Integrations > edit > API, or System > "
                    "Permissions > User Roles) and re-activate the integration")
    if answer.status == 404:
        return fail(label, f"{call}: no such route ({answer.message}); is the Magento module "
                    "installed and base_url the store's REST root?")
    if answer.status == 0:
        return fail(label, f"{call}: {answer.message}")
    if answer.status == -1 or answer.status >= 500:
        return fail(label, f"{call}: {answer.status} {answer.message}".strip())
    return ok(label, f"{call} allowed ({resource})")


def _tax_rate_check(recipe: Recipe, reader: StoreReader) -> Check:
    """The rates on the store's latest orders' lines, each mapped in [mapping] tax_codes."""
    params = {"searchCriteria[sortOrders][0][field]": "created_at",
              "searchCriteria[sortOrders][0][direction]": "DESC"}
    if recipe.magento.store_ids:
        params.update({
            "searchCriteria[filter_groups][0][filters][0][field]": "store_id",
            "searchCriteria[filter_groups][0][filters][0][value]":
                ",".join(str(s) for s in recipe.magento.store_ids),
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "in"})
    try:
        orders = reader.search("/V1/orders", params, limit=RECENT_ORDERS)
    except SageSyncError as error:
        return fail("tax rates", f"recent orders could not be read: {error}")
    seen: Counter[Decimal] = Counter()
    example: dict[Decimal, str] = {}
    for order in orders:
        for rate in _order_rates(order):
            seen[rate] += 1
            example.setdefault(rate, str(order.get("increment_id") or order.get("entity_id")))
    known = {rate.normalize() for rate in recipe.mapping.tax_codes}
    unmapped = sorted(rate for rate in seen if rate not in known)
    if unmapped:
        shown = "; ".join(f"{percent_text(r)} % ({seen[r]} lines, e.g. order {example[r]})"
                          for r in unmapped)
        return fail("tax rates", f"not in [mapping] tax_codes: {shown}. Add each as "
                    f"\"{percent_text(unmapped[0])}\" = \"<Sage tax code>\"")
    rates = ", ".join(f"{percent_text(r)} %" for r in sorted(seen)) or "none yet"
    return ok("tax rates", f"the last {len(orders)} orders use {rates}: all mapped")


def _order_rates(order: Any) -> set[Decimal]:
    """The tax percents of an order's priced lines (a configurable's child carries none)."""
    rates: set[Decimal] = set()
    for item in order.get("items") or [] if isinstance(order, dict) else []:
        if isinstance(item, dict) and not item.get("parent_item_id"):
            rate = percent(item.get("tax_percent"))
            if rate is not None:
                rates.add(rate)
    return rates
