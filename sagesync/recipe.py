"""Load and validate a recipe: a TOML file that says where data comes from and where it goes.

`${VAR}` anywhere in a string value is replaced from the environment, after loading a `.env`
file that sits beside the recipe (the environment wins). Secrets therefore never live in the
recipe itself, and the recipe's text (which is what checkpoints record) never holds them.
Every key is checked: an unknown or invalid key is a RecipeError naming the key, the file and
what is allowed, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from sagesync.errors import RecipeError
from sagesync.model.blackout import SYNTAX as BLACKOUT_SYNTAX
from sagesync.model.blackout import BlackoutWindow, WindowSyntaxError, parse_window
from sagesync.model.trading_hours import TradingHours, TradingHoursError, parse_trading_hours
from sagesync.sage import products
from sagesync.sage.products import keys as product_keys

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

SAGE_PRODUCTS = product_keys()  # the registry is the one list of products
POST_FROM = ("invoices", "orders")
DISCOUNT_MODES = ("net", "nominal")
ACCOUNT_RULES = ("name", "id")
CONFIGURABLE_RULES = ("parent",)
BUNDLE_RULES = ("auto", "children", "parent")
CURRENCIES = ("base", "order")
ZERO_TOTAL_RULES = ("skip", "post")
UNMAPPED_ITEM_RULES = ("sku", "default", "hold")
PAYMENT_KINDS = ("gift_card", "store_credit", "reward_points")
DELIVERY_KINDS = ("folder", "sftp")
LOCKED_PERIOD_RULES = ("hold", "redate")
ENTITIES = ("orders", "invoices", "creditmemos", "customers")
SFTP_KEYS = ("host", "port", "username", "password", "key_file", "key_passphrase",
             "known_hosts", "timeout_seconds")
_SFTP_NEEDS = {"host": "the SFTP server's name or address", "username": "the login",
               "known_hosts": "a known_hosts file holding the server's host key, as "
                              "`ssh-keyscan -p PORT HOST` prints it",
               "path": "the folder on the server Sage collects from"}
AUTH_KINDS = ("bearer", "oauth1", "admin", "ims")
AUTH_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret",
             "username", "password", "token_lifetime_hours", "client_id", "client_secret",
             "org_id", "store", "ims_url", "scopes")


@dataclass(frozen=True)
class MagentoSettings:
    """Where Magento data comes from: a folder of saved REST pages, or a live store."""

    source: Path | None = None
    base_url: str | None = None
    token: str | None = field(default=None, repr=False)
    auth: str = "bearer"  # bearer, oauth1, admin, ims (see sagesync.magento.auth.make_auth)
    auth_settings: dict[str, str] = field(default_factory=dict, repr=False)
    store_ids: tuple[int, ...] = ()
    page_size: int = 100
    timeout_seconds: float = 30.0
    order_states: tuple[str, ...] = ("processing", "complete", "closed")
    order_statuses: tuple[str, ...] = ()  # export only orders with these statuses; () = all
    concurrency: int = 4
    retry_attempts: int = 5
    # the longest Retry-After sagesync waits for; past it the run stops (75) for the next cycle
    max_retry_after_seconds: int = 120
    overlap_seconds: int = 300
    settle_seconds: int = 60
    start_from: datetime | None = None


@dataclass(frozen=True)
class SageSettings:
    """Which Sage product the files are for, and the file rules that vary per site."""

    product: str = "sage50_uk"
    # the product's regional edition (Sage Accounting "us", "ca"): its templates and rules;
    # "" is the product's own
    region: str = ""
    post_from: str = "invoices"
    timezone: str = "Europe/London"
    currency: str = "base"
    encoding: str = "cp1252"
    header_row: bool = True
    max_lines_per_file: int = 0  # 0: no limit
    templates: Path | None = None  # a folder overriding the shipped templates
    # store id -> text put before every Sage Reference of that store, so two stores whose
    # increment ids collide (magento2#40259) never share a reference
    reference_prefixes: dict[int, str] = field(default_factory=dict)
    # False: every amount Sage receives is positive and the type (SI/SC) carries the direction;
    # a credit memo's fee is its own SI. True: negative splits inside a document are allowed.
    negative_amounts: bool = False
    # store id -> the Sage company, entity or site its documents go to (multi-company products:
    # Sage 200, 300, X3, Intacct); a document's `company` field, empty for unlisted stores
    companies: dict[int, str] = field(default_factory=dict)
    # constant fields the product's templates name (Sage X3's order type, sales site): the
    # product's defaults (Capabilities.template_fields) with the recipe's values over them
    fields: dict[str, str] = field(default_factory=dict)
    # when Sage takes no files (sagesync.model.blackout), in `timezone`: delivery waits
    blackout: tuple[BlackoutWindow, ...] = ()
    # nothing may be dated on or before this day; a document that is follows `locked_period`
    period_locked_until: date | None = None
    locked_period: str = "hold"  # "hold" it for a person, or "redate" it to the first open day


@dataclass(frozen=True)
class MappingSettings:
    """How Magento documents become Sage postings: nominals, tax codes, accounts."""

    default_sales_nominal: str = "4000"
    carriage_nominal: str = "4905"
    discount: str = "net"
    discount_nominal: str = "4009"
    adjustment_nominal: str = "4000"
    adjustment_tax_code: str = "T9"
    nominals_csv: Path | None = None
    products_csv: Path | None = None  # Magento's product export: attribute sets, categories
    tax_codes: dict[Decimal, str] = field(default_factory=lambda: {Decimal("20"): "T1",
                                                                  Decimal("5"): "T5",
                                                                  Decimal("0"): "T0"})
    guest_account: str = "WEBSALES"
    customers_csv: Path | None = None
    account_ref: str = "name"
    configurable: str = "parent"
    bundle: str = "auto"
    department: int | None = None
    # Gift card, store credit, reward points: payments, not revenue (kind -> nominal code).
    payment_nominals: dict[str, str] = field(default_factory=dict)
    payment_tax_code: str = "T9"
    # Amounts Magento adds outside the known fields (an extension's COD fee...): field name ->
    # (nominal code, tax code or None to find it from the field's tax like shipping's).
    extra_amounts: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    zero_total_documents: str = "skip"  # or "post" (needs discount = "nominal")
    # SKU -> Sage item code (and warehouse) for products with item lines: header
    # `sku,item_code[,warehouse]`. An unmapped SKU is written as itself ("sku"), as
    # `default_item` ("default") or holds its document ("hold").
    items_csv: Path | None = None
    unmapped_items: str = "sku"
    default_item: str | None = None
    # Control accounts a template may write on every row (`receivables_nominal`,
    # `tax_nominal`): the debtors account of an invoice header and the account sales tax is
    # owed on, for products whose files name them (Sage 50 US); Sage 50 UK's by default.
    receivables_nominal: str = "1100"
    tax_nominal: str = "2200"
    # The warehouse (location, site) of a goods line items_csv gives none, and the customer
    # group of accounts sagesync creates: for products whose lines need a location (Sage 300)
    # or whose customer records need a group (Sage 300 IDGRP). None: left empty.
    default_warehouse: str | None = None
    customer_group: str | None = None


@dataclass(frozen=True)
class DeliverySettings:
    """Where finished Sage files are put: a local folder (`path`), or an SFTP server (`host`
    and the rest, `remote_path` the folder on it). Secrets come from ${VAR}s, never the text."""

    kind: str = "folder"
    path: Path | None = None
    host: str = ""
    port: int = 22
    username: str = ""
    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    key_passphrase: str | None = field(default=None, repr=False)
    known_hosts: Path | None = None
    remote_path: str = ""
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class LedgerSettings:
    """When a failing record needs a person, and when an unconfirmed one is flagged."""

    max_attempts: int = 3
    unconfirmed_after_runs: int = 3
    # Run folders (checkpoints, raw pages) older than this many days are removed after each
    # run, but those a record not yet in Sage still needs (0: keep everything).
    keep_days: int = 0


@dataclass(frozen=True)
class StatusSettings:
    """Thresholds `sagesync status --check` enforces, for monitoring."""

    max_pending_hours: float = 24.0
    max_held: int = 0
    max_needs_attention: int = 0
    max_unconfirmed: int = 0
    max_hours_since_success: float = 24.0
    max_amended: int = 0  # changed or cancelled in Magento after they reached Sage


@dataclass(frozen=True)
class ReportSettings:
    """The status page (`sagesync report`): where `run` writes it after each run (None:
    it does not) and how many days its charts cover."""

    html: Path | None = None
    days: int = 14


@dataclass(frozen=True)
class AckSettings:
    """How to read Sage's confirmation export (column names are the site's report layout)."""

    reference_column: str = "Reference"
    type_column: str | None = "Type"
    sage_number_column: str = "Transaction Number"
    invoice_number_column: str | None = None
    status_column: str | None = None
    error_column: str | None = None
    # the document's gross amount as Sage holds it: `sagesync reconcile` compares it with
    # Magento's (ack itself never reads it)
    amount_column: str | None = None
    ok_values: tuple[str, ...] = ("OK", "Posted", "Imported", "Success")
    delimiter: str = ","
    encoding: str | None = None  # None: sniffed like parse-sage (UTF-8 with/without BOM, cp1252)
    # the keys the recipe gave: a column key left out may be found by the product's own
    # headings (AckLayout.columns) instead of the default above
    named: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SageExportSettings:
    """How to read the stock and price files Sage exports (and bookkeepers re-save in Excel)."""

    product: str | None = None  # default: [sage] product
    columns: dict[str, str] = field(default_factory=dict)  # logical field -> header text
    sku_width: int = 0  # re-pad numeric SKUs Excel stripped of leading zeros
    tolerance: int = 0  # bad rows allowed (skipped and listed) before a file is refused
    decimal_comma: bool = False
    currency: str = "GBP"


@dataclass(frozen=True)
class StockSettings:
    buffer_percent: Decimal = Decimal(0)
    buffer_units: Decimal = Decimal(0)
    overrides_csv: Path | None = None
    allocated_includes_web_orders: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # Sage warehouse -> MSI source
    default_source: str = "default"


@dataclass(frozen=True)
class PriceSettings:
    base_price_list: str = "BASE"  # the parsers name a file's only price list BASE
    customer_groups: dict[str, str] = field(default_factory=dict)  # price list -> group
    store_id: int = 0
    website_id: int = 0
    currency: str | None = None
    guard_change_percent: Decimal = Decimal(25)
    guard_max_share_percent: Decimal = Decimal(10)


@dataclass(frozen=True)
class ListenSettings:
    """The webhook receiver: which signatures it trusts."""

    commerce_public_key: Path | None = None  # PEM from Admin > Adobe Services > Webhooks
    io_client_id: str | None = None
    io_public_keys: Path | None = None  # a folder of I/O Events public key PEM files
    host: str = "127.0.0.1"
    port: int = 8787
    # POST /hook: a shared secret (from .env, never shown) and how the sender signs with it
    hmac_secret: str | None = field(default=None, repr=False)
    hmac_header: str = "X-Signature"
    hmac_encoding: str = "hex"
    hmac_prefix: str = ""
    hmac_timestamp_header: str | None = None
    hmac_tolerance_seconds: int = 300
    hmac_signed_payload: str = "{timestamp}.{body}"
    hook_entity: str = "order"
    hook_id_pointer: str | None = None
    read_timeout_seconds: int = 10
    max_connections: int = 32


#: `[schedule] every` values whose runs fall evenly in every hour or day, so cron, systemd and
#: the Windows Task Scheduler start them at the same times (`*/7` would restart each hour).
SCHEDULE_MINUTES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720,
                    1440)


@dataclass(frozen=True)
class ScheduleSettings:
    """How often `sagesync schedule` has the recipe run, and where that run's output goes."""

    every_minutes: int = 15
    log: Path | None = None  # None: STATE/logs/sagesync.log


@dataclass(frozen=True)
class CustomerSettings:
    """The customer master from Sage (`parse-sage --kind customers | push-magento`): what Sage
    owns of a Magento customer, and whether a new web customer's documents wait for a person
    to approve the account (`new_accounts = "review"`)."""

    groups: dict[str, int] = field(default_factory=dict)  # Sage price level/band -> group id
    hold_attribute: str | None = None  # a customer attribute for Sage's on-hold flag
    addresses: str = "magento"  # "sage": Sage's address replaces the default billing one
    new_accounts: str = "create"  # or "review"
    max_group_change_pct: Decimal = Decimal(20)


@dataclass(frozen=True)
class ShipmentSettings:
    """Sage despatches pushed to Magento as shipments (`parse-sage --kind shipments`): whether
    Magento e-mails the customer, and which Magento carrier code each Sage carrier is."""

    notify: bool = False  # Magento's shipment e-mail to the customer
    carriers: dict[str, str] = field(default_factory=dict)  # Sage carrier -> carrier code


@dataclass(frozen=True)
class MagentoUpdatesSettings:
    """Sage's answers told back to Magento as order comments (`sagesync update-orders`, and
    at the end of each `run` when enabled): which status to move an order to, and whether
    the customer hears of it."""

    enabled: bool = False  # `run` tells Magento after each delivery
    confirmed_status: str | None = None  # e.g. "sent_to_sage"; None: the status stays
    rejected_status: str | None = None
    notify_customer: bool = False  # on a confirmation
    notify_rejections: bool = False
    # receivables (`parse-sage --kind receivables | push-magento`): paid, part paid, due
    payments_visible: bool = True  # a B2B customer sees "paid" in their account
    notify_payments: bool = False
    paid_status: str | None = None  # e.g. "paid_in_sage": the order's status once Sage is paid
ALERT_TRIGGERS = ("auth", "needs_attention", "held", "amended", "quarantine", "price_guard",
                  "no_success", "pending_age", "unconfirmed", "no_orders")
SMTP_SECURITY = ("starttls", "tls", "none")
ALERT_KEYS = ("smtp_host", "smtp_port", "security", "username", "password", "from", "to",
              "ca_file", "timeout_seconds", "webhook_url", "triggers",
              "max_hours_since_success", "max_pending_hours", "unconfirmed_after_runs",
              "trading_hours", "max_quiet_trading_hours")
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    return host.lower() in _LOOPBACK or host.startswith("127.")


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go (SMTP, a JSON webhook) and the silence thresholds that raise them."""

    smtp_host: str | None = None
    smtp_port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None  # the recipe's `from`
    recipients: tuple[str, ...] = ()  # the recipe's `to`
    ca_file: Path | None = None  # a PEM bundle for a private CA (verification stays on)
    timeout_seconds: float = 20.0
    webhook_url: str | None = field(default=None, repr=False)  # a Slack URL is a secret
    triggers: tuple[str, ...] = ALERT_TRIGGERS
    max_hours_since_success: float = 24.0
    max_pending_hours: float = 24.0
    unconfirmed_after_runs: int = 3
    trading_hours: TradingHours | None = None
    max_quiet_trading_hours: float = 2.0

    @property
    def email(self) -> bool:
        return self.smtp_host is not None

    @property
    def enabled(self) -> bool:
        """Alerts are on when a channel is configured."""
        return self.email or self.webhook_url is not None


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. `path` and `sha256` identify the file it came from."""

    name: str
    state_dir: Path
    magento: MagentoSettings
    sage: SageSettings
    mapping: MappingSettings
    delivery: DeliverySettings
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    status: StatusSettings = field(default_factory=StatusSettings)
    ack: AckSettings = field(default_factory=AckSettings)
    sage_export: SageExportSettings = field(default_factory=SageExportSettings)
    stock: StockSettings = field(default_factory=StockSettings)
    prices: PriceSettings = field(default_factory=PriceSettings)
    push_chunk_size: int = 20
    listen: ListenSettings = field(default_factory=ListenSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    magento_updates: MagentoUpdatesSettings = field(default_factory=MagentoUpdatesSettings)
    customers: CustomerSettings = field(default_factory=CustomerSettings)
    shipments: ShipmentSettings = field(default_factory=ShipmentSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    path: Path | None = None
    sha256: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.sage.timezone)


def load_recipe(path: Path | str, *, stand_ins: dict[str, str] | None = None) -> Recipe:
    """Read, substitute and validate a recipe file.

    `stand_ins` give a value to variables that are unset or empty, so `sagesync doctor` can
    check every key of a recipe whose secrets are not filled in yet (it reports those apart)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecipeError(f"Recipe file not found: {path}") from None
    except OSError as exc:
        raise RecipeError(f"Cannot read recipe {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: a recipe must be UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}") from None
    env = {**{k: v for k, v in dotenv_values(path.parent / ".env").items() if v is not None},
           **os.environ}
    env.update({k: v for k, v in (stand_ins or {}).items() if not env.get(k)})
    data = _substitute(data, env, path, "")
    recipe = _RecipeReader(path, data).read()
    return _with_identity(recipe, path, raw)


def variables_used(path: Path) -> dict[str, list[str]]:
    """Each `${VAR}` the recipe names -> the keys that use it (for `sagesync doctor`); a file
    that cannot be read or parsed is a RecipeError, as in load_recipe."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"{path}: cannot be read as a TOML recipe: {exc}") from None
    found: dict[str, list[str]] = {}

    def walk(value: Any, key: str) -> None:
        if isinstance(value, str):
            for name in _VAR.findall(value):
                found.setdefault(name, []).append(key)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    walk(data, "")
    return found


def _with_identity(recipe: Recipe, path: Path, raw: bytes) -> Recipe:
    from dataclasses import replace

    return replace(recipe, path=path.resolve(), sha256=hashlib.sha256(raw).hexdigest())


def _substitute(value: Any, env: dict[str, str], path: Path, key: str) -> Any:
    """Replace ${VAR} in every string; a variable that is not set is an error naming it."""
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise RecipeError(
                    f"{path}: key '{key}' uses ${{{name}}}, but {name} is not set in the "
                    f"environment or in {path.parent / '.env'}.")
            return env[name]
        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, env, path, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, path, key) for v in value]
    return value


class _RecipeReader:
    """Walks the TOML tree once, converting and checking each key."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.base = path.parent
        self.data = data

    def fail(self, key: str, expected: str, got: Any = None) -> RecipeError:
        shown = "" if got is None else f" (got {got!r})"
        return RecipeError(f"{self.path}: key '{key}': expected {expected}{shown}.")

    def section(self, name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(name, "a [table]", value)
        self.check_keys(name, value, allowed)
        return value

    def check_keys(self, where: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                place = f"{where}.{key}" if where else key
                raise RecipeError(
                    f"{self.path}: unknown key '{place}'. Allowed here: {', '.join(allowed)}.")

    def string(self, table: dict[str, Any], where: str, key: str, default: str | None,
               choices: tuple[str, ...] | None = None) -> str | None:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", "a non-empty string", value)
        if choices and value not in choices:
            raise self.fail(f"{where}.{key}", "one of " + ", ".join(repr(c) for c in choices),
                            value)
        return value

    def integer(self, table: dict[str, Any], where: str, key: str, default: int | None,
                low: int, high: int) -> int | None:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"{where}.{key}", f"a whole number from {low} to {high}", value)
        return value

    def strings(self, table: dict[str, Any], where: str, key: str,
                default: list[str]) -> list[str]:
        value = table.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{where}.{key}", "a list of texts", value)
        return value

    def boolean(self, table: dict[str, Any], where: str, key: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "true or false", value)
        return value

    def file_path(self, table: dict[str, Any], where: str, key: str, *,
                  must_exist: bool) -> Path | None:
        value = self.string(table, where, key, None)
        if value is None:
            return None
        resolved = (self.base / Path(value)).resolve() if not Path(value).is_absolute() \
            else Path(value)
        if must_exist and not resolved.exists():
            raise RecipeError(f"{self.path}: key '{where}.{key}': {resolved} does not exist.")
        return resolved

    def read(self) -> Recipe:
        self.check_keys("", self.data, ("name", "state_dir", "magento", "sage", "mapping",
                                        "delivery", "ledger", "status", "ack", "sage_export",
                                        "stock", "prices", "push", "listen",
                                        "magento_updates", "report", "schedule", "alerts",
                                        "customers", "shipments"))
        name = self.string(self.data, "", "name", None)
        if name is None:
            raise RecipeError(f"{self.path}: missing key 'name' (a short name for this recipe).")
        state = self.string(self.data, "", "state_dir", None)
        if state is None:
            raise RecipeError(f"{self.path}: missing key 'state_dir' (the folder where sagesync "
                              "keeps its ledger, checkpoints and logs).")
        ledger, status = self.ledger(), self.status()
        return Recipe(name=name, state_dir=(self.base / state).resolve(),
                      magento=self.magento(), sage=self.sage(), mapping=self.mapping(),
                      delivery=self.delivery(), ledger=ledger, status=status,
                      ack=self.ack(), sage_export=self.sage_export(), stock=self.stock(),
                      prices=self.prices(), listen=self.listen(), report=self.report(),
                      schedule=self.schedule(),
                      magento_updates=self.magento_updates(),
                      customers=self.customers(),
                      shipments=self.shipments(),
                      alerts=self.alerts(ledger, status),
                      push_chunk_size=self.integer(self.section("push", ("chunk_size",)),
                                                   "push", "chunk_size", 20, 1, 5000) or 20)

    def schedule(self) -> ScheduleSettings:
        t = self.section("schedule", ("every", "log"))
        every = self.string(t, "schedule", "every", "15m") or "15m"
        match = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", every)
        minutes = int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)] \
            if match else 0
        if minutes not in SCHEDULE_MINUTES:
            raise self.fail("schedule.every", "an interval that divides an hour or a day: "
                            "1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h, 2h, 3h, 4h, "
                            "6h, 8h, 12h or 1d", every)
        return ScheduleSettings(every_minutes=minutes,
                                log=self.file_path(t, "schedule", "log", must_exist=False))

    def customers(self) -> CustomerSettings:
        where = "customers"
        t = self.section(where, ("groups", "hold_attribute", "addresses", "new_accounts",
                                 "max_group_change_pct"))
        d = CustomerSettings()
        groups = t.get("groups", {})
        if not isinstance(groups, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**6
                for v in groups.values()):
            raise self.fail(f"{where}.groups", 'a table of Sage price level = Magento customer '
                            'group id, e.g. { "A" = 2, "Trade" = 3 }', groups)
        attribute = self.string(t, where, "hold_attribute", None)
        if attribute is not None and not re.fullmatch(r"[a-z][a-z0-9_]{0,59}", attribute):
            raise self.fail(f"{where}.hold_attribute", "a Magento attribute code (lower-case "
                            'letters, digits and _, e.g. "sage_on_hold")', attribute)
        share = self.decimal(t, where, "max_group_change_pct", d.max_group_change_pct)
        if share > 100:
            raise self.fail(f"{where}.max_group_change_pct", "a percentage from 0 to 100", share)
        return CustomerSettings(
            groups={str(k).strip().upper(): int(v) for k, v in groups.items()},
            hold_attribute=attribute,
            addresses=self.string(t, where, "addresses", d.addresses, ("magento", "sage"))
            or d.addresses,
            new_accounts=self.string(t, where, "new_accounts", d.new_accounts,
                                     ("create", "review")) or d.new_accounts,
            max_group_change_pct=share)

    def shipments(self) -> ShipmentSettings:
        t = self.section("shipments", ("notify", "carriers"))
        carriers = self.text_table(t, "shipments", "carriers")
        wrong = [code for code in carriers.values()
                 if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", code)]
        if wrong:
            raise self.fail("shipments.carriers", 'Magento carrier codes such as "ups", '
                            '"dhl" or "custom" (lower case)', wrong[0])
        return ShipmentSettings(notify=self.boolean(t, "shipments", "notify", False),
                                carriers=carriers)

    def magento_updates(self) -> MagentoUpdatesSettings:
        keys = ("enabled", "confirmed_status", "rejected_status", "notify_customer",
                "notify_rejections", "payments_visible", "notify_payments", "paid_status")
        t = self.section("magento_updates", keys)
        d = MagentoUpdatesSettings()
        where = "magento_updates"
        return MagentoUpdatesSettings(
            enabled=self.boolean(t, where, "enabled", d.enabled),
            confirmed_status=self.string(t, where, "confirmed_status", None),
            rejected_status=self.string(t, where, "rejected_status", None),
            notify_customer=self.boolean(t, where, "notify_customer", d.notify_customer),
            notify_rejections=self.boolean(t, where, "notify_rejections", d.notify_rejections),
            payments_visible=self.boolean(t, where, "payments_visible", d.payments_visible),
            notify_payments=self.boolean(t, where, "notify_payments", d.notify_payments),
            paid_status=self.string(t, where, "paid_status", None))

    def magento(self) -> MagentoSettings:
        t = self.section("magento", ("source", "base_url", "token", "store_ids", "page_size",
                                     "timeout_seconds", "order_states", "order_statuses",
                                     "concurrency", "retry_attempts", "overlap_seconds",
                                     "max_retry_after_seconds",
                                     "settle_seconds", "start_from", "auth",
                                     *AUTH_KEYS))
        source = self.file_path(t, "magento", "source", must_exist=False)
        base_url = self.string(t, "magento", "base_url", None)
        if (source is None) == (base_url is None):
            raise RecipeError(f"{self.path}: [magento] needs exactly one of 'source' (a folder of "
                              "saved REST pages) or 'base_url' (a live store, with 'token').")
        if base_url and not re.match(r"^https?://", base_url):
            raise self.fail("magento.base_url", "an http:// or https:// URL", base_url)
        token = self.string(t, "magento", "token", None)
        auth = self.string(t, "magento", "auth", "bearer", AUTH_KINDS) or "bearer"
        if base_url and auth == "bearer" and not token:
            raise RecipeError(f"{self.path}: [magento] base_url needs 'token' "
                              "(write token = \"${MAGENTO_TOKEN}\" and set it in .env).")
        auth_settings = {k: str(t[k]) for k in AUTH_KEYS if k in t}
        store_ids = t.get("store_ids", [])
        if not isinstance(store_ids, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in store_ids):
            raise self.fail("magento.store_ids", "a list of store view ids", store_ids)
        states = self.strings(t, "magento", "order_states", list(MagentoSettings.order_states))
        statuses = self.strings(t, "magento", "order_statuses", [])
        start_from = t.get("start_from")
        if start_from is not None:
            try:
                start_from = datetime.strptime(str(start_from), "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                raise self.fail("magento.start_from", "a date 'YYYY-MM-DD' (UTC)",
                                start_from) from None
        timeout = t.get("timeout_seconds", 30.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise self.fail("magento.timeout_seconds", "a positive number of seconds", timeout)
        return MagentoSettings(
            source=source, base_url=base_url.rstrip("/") if base_url else None, token=token,
            store_ids=tuple(store_ids),
            page_size=self.integer(t, "magento", "page_size", 100, 1, 300) or 100,
            timeout_seconds=float(timeout), order_states=tuple(states),
            order_statuses=tuple(statuses),
            concurrency=self.integer(t, "magento", "concurrency", 4, 1, 16) or 4,
            retry_attempts=self.integer(t, "magento", "retry_attempts", 5, 1, 20) or 5,
            max_retry_after_seconds=self.integer(t, "magento", "max_retry_after_seconds", 120,
                                                 0, 86_400) or 0,
            overlap_seconds=self.integer(t, "magento", "overlap_seconds", 300, 0, 86_400) or 0,
            settle_seconds=self.integer(t, "magento", "settle_seconds", 60, 0, 86_400) or 0,
            start_from=start_from, auth=auth, auth_settings=auth_settings)

    def sage(self) -> SageSettings:
        t = self.section("sage", ("product", "region", "post_from", "timezone", "currency",
                                  "encoding", "header_row", "max_lines_per_file", "templates",
                                  "reference_prefixes", "negative_amounts", "companies",
                                  "fields", "blackout", "period_locked_until",
                                  "locked_period"))
        if "product" not in t:
            raise RecipeError(f"{self.path}: missing key 'sage.product' "
                              f"(one of {', '.join(products.posting_keys())}).")
        timezone = self.string(t, "sage", "timezone", "Europe/London") or "Europe/London"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("sage.timezone", "an IANA time zone such as 'Europe/London'",
                            timezone) from None
        key = self._posting_product(t)
        regions = tuple(products.PRODUCTS[key].regions)
        region = self.string(t, "sage", "region", "", regions or None) or ""
        if region and not regions:
            raise self.fail("sage.region", f"no region: {products.PRODUCTS[key].title} has one "
                            "edition (leave the key out)", region)
        currency = self.string(t, "sage", "currency", "base", CURRENCIES) or "base"
        if currency != "base" and not products.get(key, region).capabilities.foreign_currency:
            raise self.fail("sage.currency", f'"base": {products.get(key, region).title} imports '
                            "amounts in the company's home currency only, so Magento's base "
                            "amounts are posted", currency)
        default_encoding = products.get(key, region).capabilities.encoding
        encoding = self.string(t, "sage", "encoding", default_encoding) or default_encoding
        try:
            "".encode(encoding)
        except LookupError:
            raise self.fail("sage.encoding", "a text encoding such as 'cp1252' or 'utf-8'",
                            encoding) from None
        negative_amounts = self.boolean(t, "sage", "negative_amounts", False)
        caps = products.get(key).capabilities
        if not negative_amounts and not caps.contra_documents:
            raise self.fail(
                "sage.negative_amounts", f"true for {products.get(key).title}: its rows are the "
                "lines of one document, so a credit memo's fee, a gift card or a discount can "
                "only be a negative line inside its invoice or credit memo, never a document "
                "of its own", negative_amounts)
        post_from = self.string(t, "sage", "post_from", caps.post_from[0], POST_FROM) \
            or caps.post_from[0]  # the product's first, by default (Sage X3: orders)
        if post_from not in caps.post_from:
            raise self.fail("sage.post_from", " or ".join(repr(p) for p in caps.post_from)
                            + f": {products.get(key).title} cannot post a sale from "
                            f"Magento's {post_from} (see its README)", post_from)
        companies = self._companies(t)
        if caps.one_company and len(set(companies.values())) > 1:
            raise self.fail("sage.companies", f"one company: {products.get(key).title} imports "
                            "a file into the company it is logged into, so write one recipe "
                            "per company ([magento] store_ids = its stores, its own state_dir "
                            "and [delivery] path)", t.get("companies"))
        return SageSettings(
            product=key, region=region,
            post_from=post_from,
            timezone=timezone,
            currency=currency,
            encoding=encoding,
            header_row=self.boolean(t, "sage", "header_row", True),
            max_lines_per_file=self.integer(t, "sage", "max_lines_per_file", 0, 0, 10_000_000)
            or 0,
            templates=self.file_path(t, "sage", "templates", must_exist=True),
            reference_prefixes=self._reference_prefixes(t),
            negative_amounts=negative_amounts,
            companies=companies,
            fields=self._template_fields(t, key),
            blackout=self._blackout(t),
            period_locked_until=self._locked_until(t),
            locked_period=self.string(t, "sage", "locked_period", "hold",
                                      LOCKED_PERIOD_RULES) or "hold")

    def _blackout(self, t: dict[str, Any]) -> tuple[BlackoutWindow, ...]:
        texts = self.strings(t, "sage", "blackout", [])
        windows = []
        for n, text in enumerate(texts):
            try:
                windows.append(parse_window(text))
            except WindowSyntaxError as exc:
                raise self.fail(f"sage.blackout[{n}]", f"a window {BLACKOUT_SYNTAX}; {exc}",
                                text) from None
        return tuple(windows)

    def _locked_until(self, t: dict[str, Any]) -> date | None:
        value = t.get("period_locked_until")
        if value is None:
            return None
        if isinstance(value, str):
            with suppress(ValueError):
                value = date.fromisoformat(value)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise self.fail("sage.period_locked_until", "a date such as 2026-10-31 (the last "
                            "day of the locked period)", value)
        return value

    def _template_fields(self, t: dict[str, Any], key: str) -> dict[str, str]:
        """`[sage] fields`: the product's constant template fields, each name one it declares
        (a typo fails here, not as an empty cell in Sage), over the product's defaults."""
        product = products.get(key)
        known = product.capabilities.template_fields
        table = t.get("fields", {})
        if not isinstance(table, dict):
            raise self.fail("sage.fields", 'a table of name = "text", e.g. { order_type = '
                            '"SON" }', table)
        for name, value in table.items():
            if name not in known:
                raise self.fail(f"sage.fields.{name}",
                                f"one of {', '.join(known)}" if known else
                                f"no field: {product.title} templates name none", name)
            if not isinstance(value, str) or len(value) > 100 or \
                    re.search(r"[\x00-\x1f]", value):
                raise self.fail(f"sage.fields.{name}", "text of at most 100 characters, on "
                                "one line", value)
            caps = product.capabilities
            if value and (name in caps.code_lengths or name in caps.code_patterns) and \
                    not caps.code_fits(name, value):  # the product's rule for this code
                raise self.fail(f"sage.fields.{name}", caps.code_rule(name)[1], value)
        return {**known, **table}

    def _companies(self, t: dict[str, Any]) -> dict[int, str]:
        table = t.get("companies", {})
        example = '{ "1" = "UK01", "2" = "EU01" } (store id = company)'
        if not isinstance(table, dict):
            raise self.fail("sage.companies", example, table)
        companies: dict[int, str] = {}
        for store, company in table.items():
            if not str(store).isdigit():
                raise self.fail(f"sage.companies.{store}", f"a Magento store id; {example}",
                                store)
            if not isinstance(company, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,20}",
                                                                 company):
                raise self.fail(f"sage.companies.{store}",
                                "a company code of 1 to 20 letters, digits, '-' or '_'", company)
            companies[int(store)] = company
        return companies

    def _posting_product(self, t: dict[str, Any]) -> str:
        """`[sage] product` is what documents are posted to: a product that can post."""
        key = self.string(t, "sage", "product", None) or ""
        posting = products.posting_keys()
        if key in products.PRODUCTS and key not in posting:
            found = products.PRODUCTS[key]
            raise RecipeError(
                f"{self.path}: key 'sage.product': {found.title} ('{key}') cannot post documents "
                f"yet; expected one of {', '.join(repr(k) for k in posting)}. Its stock and price "
                f"exports are read with [sage_export] product = \"{key}\".")
        if key not in posting:
            raise self.fail("sage.product", "one of " + ", ".join(repr(k) for k in posting), key)
        return key

    def _reference_prefixes(self, t: dict[str, Any]) -> dict[int, str]:
        table = t.get("reference_prefixes", {})
        example = '{ "1" = "", "2" = "EU" } (store id = prefix)'
        if not isinstance(table, dict):
            raise self.fail("sage.reference_prefixes", example, table)
        prefixes: dict[int, str] = {}
        for store, prefix in table.items():
            if not str(store).isdigit():
                raise self.fail(f"sage.reference_prefixes.{store}",
                                f"a Magento store id; {example}", store)
            if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9/_-]{0,10}", prefix):
                raise self.fail(f"sage.reference_prefixes.{store}",
                                "up to 10 letters, digits, '-', '_' or '/'", prefix)
            prefixes[int(store)] = prefix
        if len(set(prefixes.values())) < len(prefixes):
            raise self.fail("sage.reference_prefixes", "a different prefix for every store",
                            table)
        return prefixes

    def mapping(self) -> MappingSettings:
        allowed = ("default_sales_nominal", "carriage_nominal", "discount", "discount_nominal",
                   "adjustment_nominal", "adjustment_tax_code", "nominals_csv", "products_csv",
                   "tax_codes",
                   "guest_account", "customers_csv", "account_ref", "configurable", "bundle",
                   "department", "payment_nominals", "payment_tax_code", "extra_amounts",
                   "zero_total_documents", "items_csv", "unmapped_items", "default_item",
                   "receivables_nominal", "tax_nominal",
                   "default_warehouse", "customer_group")
        t = self.section("mapping", allowed)
        d = self._mapping_defaults()
        codes = dict(d.tax_codes)
        if "tax_codes" in t:
            table = t["tax_codes"]
            if not isinstance(table, dict) or not table:
                raise self.fail("mapping.tax_codes",
                                'a table of rate = "code", e.g. { "20" = "T1", "5" = "T5" }',
                                table)
            codes = {}
            for rate, code in table.items():
                try:
                    key = Decimal(rate).normalize()
                except InvalidOperation:
                    raise self.fail(f"mapping.tax_codes.{rate}", "a tax rate in percent",
                                    rate) from None
                if not isinstance(code, str):
                    raise self.fail(f"mapping.tax_codes.{rate}", "a tax code in quotes", code)
                codes[key] = self._code("tax_code", f"mapping.tax_codes.{rate}", code,
                                        "tax code")
        mapping = MappingSettings(
            default_sales_nominal=self._nominal(t, "default_sales_nominal",
                                                d.default_sales_nominal),
            carriage_nominal=self._nominal(t, "carriage_nominal", d.carriage_nominal),
            discount=self.string(t, "mapping", "discount", d.discount, DISCOUNT_MODES)
            or d.discount,
            discount_nominal=self._nominal(t, "discount_nominal", d.discount_nominal),
            adjustment_nominal=self._nominal(t, "adjustment_nominal", d.adjustment_nominal),
            adjustment_tax_code=self._tax_code(t, "adjustment_tax_code", d.adjustment_tax_code),
            nominals_csv=self.file_path(t, "mapping", "nominals_csv", must_exist=True),
            products_csv=self.file_path(t, "mapping", "products_csv", must_exist=True),
            tax_codes={k.normalize(): v for k, v in codes.items()},
            guest_account=self._account(t, "guest_account", d.guest_account),
            customers_csv=self.file_path(t, "mapping", "customers_csv", must_exist=True),
            account_ref=self.string(t, "mapping", "account_ref", d.account_ref, ACCOUNT_RULES)
            or d.account_ref,
            configurable=self.string(t, "mapping", "configurable", d.configurable,
                                     CONFIGURABLE_RULES) or d.configurable,
            bundle=self.string(t, "mapping", "bundle", d.bundle, BUNDLE_RULES) or d.bundle,
            department=self.integer(t, "mapping", "department", None, 0, 999),
            payment_nominals=self._payment_nominals(t),
            payment_tax_code=self._tax_code(t, "payment_tax_code", d.payment_tax_code),
            extra_amounts=self._extra_amounts(t),
            zero_total_documents=self.string(t, "mapping", "zero_total_documents",
                                             d.zero_total_documents, ZERO_TOTAL_RULES)
            or d.zero_total_documents,
            items_csv=self.file_path(t, "mapping", "items_csv", must_exist=True),
            unmapped_items=self.string(t, "mapping", "unmapped_items", d.unmapped_items,
                                       UNMAPPED_ITEM_RULES) or d.unmapped_items,
            default_item=self.string(t, "mapping", "default_item", d.default_item),
            receivables_nominal=self._nominal(t, "receivables_nominal", d.receivables_nominal),
            tax_nominal=self._nominal(t, "tax_nominal", d.tax_nominal),
            default_warehouse=self._optional_code(t, "default_warehouse", d.default_warehouse,
                                                  "warehouse", "warehouse"),
            customer_group=self._optional_code(t, "customer_group", d.customer_group,
                                               "customer_group", "customer group"))
        if (mapping.unmapped_items == "default") != (mapping.default_item is not None):
            raise self.fail("mapping.default_item", 'a Sage item code with unmapped_items = '
                            '"default", and only then', mapping.default_item)
        self._check_signs(mapping)
        return mapping

    def _mapping_defaults(self) -> MappingSettings:
        """MappingSettings' defaults (Sage 50 UK's codes), with the posting product's own
        (`Capabilities.mapping_defaults`: its tax codes, its nominals) in their place."""
        own: dict[str, Any] = dict(products.get(self.product_key, self.region_key)
                                   .capabilities.mapping_defaults)
        if "tax_codes" in own:
            own["tax_codes"] = {Decimal(rate).normalize(): code
                                for rate, code in own["tax_codes"].items()}
        return replace(MappingSettings(), **own)

    def _payment_nominals(self, t: dict[str, Any]) -> dict[str, str]:
        table = self.text_table(t, "mapping", "payment_nominals")
        for kind in table:
            if kind not in PAYMENT_KINDS:
                raise self.fail(f"mapping.payment_nominals.{kind}",
                                "one of " + ", ".join(PAYMENT_KINDS), kind)
        return {kind: self._nominal(table, kind, "", "mapping.payment_nominals")
                for kind in table}

    def _extra_amounts(self, t: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
        """field = "nominal", or field = { nominal = "...", tax_code = "T.." }."""
        table = t.get("extra_amounts", {})
        example = '{ "payment_surcharge_amount" = "4910" } or { "cod_fee" = { nominal = ' \
                  '"4910", tax_code = "T1" } }'
        if not isinstance(table, dict):
            raise self.fail("mapping.extra_amounts", example, table)
        found: dict[str, tuple[str, str | None]] = {}
        for name, value in table.items():
            where = f"extra_amounts.{name}"
            if not re.fullmatch(r"[A-Za-z0-9_.]+", name):
                raise self.fail(f"mapping.{where}", "a Magento field name", name)
            if isinstance(value, str):
                found[name] = (self._nominal(table, name, "", "mapping.extra_amounts"), None)
            elif isinstance(value, dict) and "nominal" in value and \
                    set(value) <= {"nominal", "tax_code"}:
                tax = self._tax_code(value, "tax_code", "", f"mapping.{where}") \
                    if "tax_code" in value else None
                found[name] = (self._nominal(value, "nominal", "", f"mapping.{where}"), tax)
            else:
                raise self.fail(f"mapping.{where}", example, value)
        return found

    def _check_signs(self, mapping: MappingSettings) -> None:
        """Refuse the settings that need negative amounts unless the recipe allows them."""
        sage = self.data.get("sage", {})
        negative = isinstance(sage, dict) and sage.get("negative_amounts") is True
        if mapping.discount == "nominal" and not negative:
            raise self.fail(
                "mapping.discount", '"net", or [sage] negative_amounts = true: "nominal" posts '
                "every discount as a negative split inside its invoice, and Sage 50 takes "
                "positive amounts unless the recipe allows negative ones", "nominal")
        if mapping.zero_total_documents == "post" and mapping.discount != "nominal":
            raise self.fail(
                "mapping.zero_total_documents", '"skip", or discount = "nominal" (with [sage] '
                'negative_amounts = true): with discount = "net" a zero-total document is only '
                "rows of 0.00, which Sage has nothing to book from and may refuse", "post")

    def _nominal(self, t: dict[str, Any], key: str, default: str,
                 section: str = "mapping") -> str:
        value = self.string(t, section, key, default) or default
        return self._code("nominal_code", f"{section}.{key}", value, "nominal code")

    def _tax_code(self, t: dict[str, Any], key: str, default: str,
                  section: str = "mapping") -> str:
        value = self.string(t, section, key, default) or default
        return self._code("tax_code", f"{section}.{key}", value, "tax code")

    def _optional_code(self, t: dict[str, Any], key: str, default: str | None, name: str,
                       what: str) -> str | None:
        value = self.string(t, "mapping", key, default)
        return None if value is None else self._code(name, f"mapping.{key}", value, what)

    def _account(self, t: dict[str, Any], key: str, default: str) -> str:
        value = self.string(t, "mapping", key, default) or default
        return self._code("account_ref", f"mapping.{key}", value, "account reference")

    def _code(self, name: str, key: str, value: str, what: str) -> str:
        """A code the recipe gives, checked by the posting product's own rule for it."""
        product = products.get(self.product_key, self.region_key)
        if not product.capabilities.code_fits(name, value):
            rule = product.capabilities.code_rule(name)[1]
            raise self.fail(key, f"a {product.title} {what} ({rule})", value)
        return value

    @property
    def product_key(self) -> str:
        """The recipe's [sage] product (checked by `sage()`, read before the mapping)."""
        sage = self.data.get("sage")
        return str(sage.get("product", "sage50_uk")) if isinstance(sage, dict) \
            else "sage50_uk"

    @property
    def region_key(self) -> str:
        """The recipe's [sage] region (checked by `sage()`, read before the mapping)."""
        sage = self.data.get("sage")
        return str(sage.get("region", "")) if isinstance(sage, dict) else ""

    def delivery(self) -> DeliverySettings:
        t = self.section("delivery", ("kind", "path", *SFTP_KEYS))
        kind = self.string(t, "delivery", "kind", "folder", DELIVERY_KINDS) or "folder"
        if kind == "sftp":
            return self._sftp(t)
        extra = [k for k in SFTP_KEYS if k in t]
        if extra:
            raise RecipeError(f"{self.path}: key 'delivery.{extra[0]}' is for an SFTP "
                              'delivery: set [delivery] kind = "sftp", or remove it.')
        path = self.file_path(t, "delivery", "path", must_exist=False)
        return DeliverySettings(kind=kind, path=path)

    def _sftp(self, t: dict[str, Any]) -> DeliverySettings:
        for key in ("host", "username", "known_hosts", "path"):
            if key not in t:
                raise RecipeError(f"{self.path}: [delivery] kind = \"sftp\" needs "
                                  f"'delivery.{key}' ({_SFTP_NEEDS[key]}).")
        if ("password" in t) == ("key_file" in t):
            raise RecipeError(f"{self.path}: [delivery] kind = \"sftp\" needs exactly one of "
                              "'delivery.key_file' (a private key file) or 'delivery.password' "
                              '(write password = "${SFTP_PASSWORD}" and set it in .env).')
        if "key_passphrase" in t and "key_file" not in t:
            raise RecipeError(f"{self.path}: key 'delivery.key_passphrase' needs "
                              "'delivery.key_file'.")
        timeout = t.get("timeout_seconds", 30.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise self.fail("delivery.timeout_seconds", "a positive number of seconds", timeout)
        remote = self.string(t, "delivery", "path", None) or ""
        return DeliverySettings(
            kind="sftp", host=self.string(t, "delivery", "host", None) or "",
            port=self.integer(t, "delivery", "port", 22, 1, 65535) or 22,
            username=self.string(t, "delivery", "username", None) or "",
            password=self.string(t, "delivery", "password", None),
            key_file=self.file_path(t, "delivery", "key_file", must_exist=True),
            key_passphrase=self.string(t, "delivery", "key_passphrase", None),
            known_hosts=self.file_path(t, "delivery", "known_hosts", must_exist=True),
            remote_path=remote.rstrip("/") or "/", timeout_seconds=float(timeout))

    def ledger(self) -> LedgerSettings:
        t = self.section("ledger", ("max_attempts", "unconfirmed_after_runs", "keep_days"))
        d = LedgerSettings()
        return LedgerSettings(
            keep_days=self.integer(t, "ledger", "keep_days", d.keep_days, 0, 36500) or 0,
            max_attempts=self.integer(t, "ledger", "max_attempts", d.max_attempts, 1, 100)
            or d.max_attempts,
            unconfirmed_after_runs=self.integer(t, "ledger", "unconfirmed_after_runs",
                                                d.unconfirmed_after_runs, 1, 1000)
            or d.unconfirmed_after_runs)

    def number(self, table: dict[str, Any], where: str, key: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(f"{where}.{key}", "a number of zero or more", value)
        return float(value)

    def status(self) -> StatusSettings:
        t = self.section("status", ("max_pending_hours", "max_held", "max_needs_attention",
                                    "max_unconfirmed", "max_hours_since_success",
                                    "max_amended"))
        d = StatusSettings()
        count = self.integer
        return StatusSettings(
            max_pending_hours=self.number(t, "status", "max_pending_hours", d.max_pending_hours),
            max_held=count(t, "status", "max_held", d.max_held, 0, 10**9) or 0,
            max_needs_attention=count(t, "status", "max_needs_attention",
                                      d.max_needs_attention, 0, 10**9) or 0,
            max_unconfirmed=count(t, "status", "max_unconfirmed", d.max_unconfirmed, 0, 10**9)
            or 0,
            max_hours_since_success=self.number(t, "status", "max_hours_since_success",
                                                d.max_hours_since_success),
            max_amended=count(t, "status", "max_amended", d.max_amended, 0, 10**9) or 0)

    def ack(self) -> AckSettings:
        keys = ("reference_column", "type_column", "sage_number_column",
                "invoice_number_column", "status_column", "error_column", "amount_column",
                "ok_values", "delimiter", "encoding")
        t = self.section("ack", keys)
        d = AckSettings()
        ok_values = t.get("ok_values", list(d.ok_values))
        if not isinstance(ok_values, list) or not all(isinstance(v, str) for v in ok_values):
            raise self.fail("ack.ok_values", "a list of texts", ok_values)
        delimiter = self.string(t, "ack", "delimiter", d.delimiter) or d.delimiter
        if len(delimiter) != 1:
            raise self.fail("ack.delimiter", "one character", delimiter)
        encoding = self.string(t, "ack", "encoding", d.encoding)
        try:
            "".encode(encoding or "utf-8")
        except LookupError:
            raise self.fail("ack.encoding", "a text encoding", encoding) from None
        return AckSettings(
            reference_column=self.string(t, "ack", "reference_column", d.reference_column)
            or d.reference_column,
            # "": the export has no type column (every row answers the product's types)
            type_column=None if t.get("type_column") == "" else
            self.string(t, "ack", "type_column", d.type_column),
            sage_number_column=self.string(t, "ack", "sage_number_column",
                                           d.sage_number_column) or d.sage_number_column,
            invoice_number_column=self.string(t, "ack", "invoice_number_column", None),
            status_column=self.string(t, "ack", "status_column", None),
            error_column=self.string(t, "ack", "error_column", None),
            amount_column=self.string(t, "ack", "amount_column", None),
            ok_values=tuple(ok_values), delimiter=delimiter, encoding=encoding,
            named=frozenset(k for k in keys if k in t))

    def text_table(self, table: dict[str, Any], where: str, key: str) -> dict[str, str]:
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(
                isinstance(v, str | int) and not isinstance(v, bool) for v in value.values()):
            raise self.fail(f"{where}.{key}", 'a table of "name" = "value"', value)
        return {str(k): str(v) for k, v in value.items()}

    def decimal(self, table: dict[str, Any], where: str, key: str, default: Decimal) -> Decimal:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or value < 0:
            raise self.fail(f"{where}.{key}", "a number of zero or more", value)
        return Decimal(str(value))

    def sage_export(self) -> SageExportSettings:
        t = self.section("sage_export", ("product", "columns", "sku_width", "tolerance",
                                         "decimal_comma", "currency"))
        return SageExportSettings(
            product=self.string(t, "sage_export", "product", None, products.export_keys()),
            columns=self.text_table(t, "sage_export", "columns"),
            sku_width=self.integer(t, "sage_export", "sku_width", 0, 0, 64) or 0,
            tolerance=self.integer(t, "sage_export", "tolerance", 0, 0, 10**9) or 0,
            decimal_comma=self.boolean(t, "sage_export", "decimal_comma", False),
            currency=self.string(t, "sage_export", "currency", "GBP") or "GBP")

    def stock(self) -> StockSettings:
        t = self.section("stock", ("buffer_percent", "buffer_units", "overrides_csv",
                                   "allocated_includes_web_orders", "sources",
                                   "default_source"))
        return StockSettings(
            buffer_percent=self.decimal(t, "stock", "buffer_percent", Decimal(0)),
            buffer_units=self.decimal(t, "stock", "buffer_units", Decimal(0)),
            overrides_csv=self.file_path(t, "stock", "overrides_csv", must_exist=True),
            allocated_includes_web_orders=self.boolean(t, "stock",
                                                       "allocated_includes_web_orders", False),
            sources=self.text_table(t, "stock", "sources"),
            default_source=self.string(t, "stock", "default_source", "default") or "default")

    def prices(self) -> PriceSettings:
        t = self.section("prices", ("base_price_list", "customer_groups", "store_id",
                                    "website_id", "currency", "guard_change_percent",
                                    "guard_max_share_percent"))
        d = PriceSettings()
        return PriceSettings(
            base_price_list=self.string(t, "prices", "base_price_list", d.base_price_list)
            or d.base_price_list,
            customer_groups=self._customer_groups(t),
            store_id=self.integer(t, "prices", "store_id", 0, 0, 10**6) or 0,
            website_id=self.integer(t, "prices", "website_id", 0, 0, 10**6) or 0,
            currency=self.string(t, "prices", "currency", None),
            guard_change_percent=self.decimal(t, "prices", "guard_change_percent",
                                              d.guard_change_percent),
            guard_max_share_percent=self.decimal(t, "prices", "guard_max_share_percent",
                                                 d.guard_max_share_percent))

    def _customer_groups(self, t: dict[str, Any]) -> dict[str, str]:
        """Sage price list -> Magento customer group *code*: POST /V1/products/tier-prices
        looks `customer_group` up by code (TierPriceValidator::checkGroup), so an id such as
        "2" fails on every row in a real store; say so here, before anything is pushed."""
        groups = self.text_table(t, "prices", "customer_groups")
        for price_list, group in groups.items():
            key = f"prices.customer_groups.{price_list}"
            if group.strip().isdigit():
                raise RecipeError(
                    f"{self.path}: key '{key}': {group!r} looks like a customer group id, but "
                    "Magento's tier-price API wants the customer group code as shown in "
                    'Customers > Customer Groups, e.g. "Wholesale", "Retailer", "General", '
                    '"NOT LOGGED IN" or "ALL GROUPS".')
            if not group.strip() or group != group.strip():
                raise self.fail(key, 'a customer group code such as "Wholesale", without '
                                "leading or trailing spaces", group)
        return groups

    def report(self) -> ReportSettings:
        t = self.section("report", ("html", "days"))
        return ReportSettings(html=self.file_path(t, "report", "html", must_exist=False),
                              days=self.integer(t, "report", "days", 14, 1, 3660) or 14)

    def listen(self) -> ListenSettings:
        t = self.section("listen", ("commerce_public_key", "io_client_id", "io_public_keys",
                                    "host", "port", "hmac_secret", "hmac_header",
                                    "hmac_encoding", "hmac_prefix", "hmac_timestamp_header",
                                    "hmac_tolerance_seconds", "hmac_signed_payload",
                                    "hook_entity", "hook_id_pointer", "read_timeout_seconds",
                                    "max_connections"))
        secret = t.get("hmac_secret")
        if secret is not None and (not isinstance(secret, str) or not secret.strip()):
            raise RecipeError(f"{self.path}: key 'listen.hmac_secret': expected a non-empty "
                              'text; write hmac_secret = "${WEBHOOK_SECRET}" and set it in .env.')
        signed = self.string(t, "listen", "hmac_signed_payload", "{timestamp}.{body}") or ""
        if signed.count("{body}") != 1 or "{timestamp}" not in signed:
            raise self.fail("listen.hmac_signed_payload",
                            "a text holding {timestamp} and {body} once, e.g. "
                            "'{timestamp}.{body}'", signed)
        pointer = self.string(t, "listen", "hook_id_pointer", None)
        if pointer is not None and not pointer.startswith("/"):
            raise self.fail("listen.hook_id_pointer", "a JSON pointer such as "
                            "'/order/entity_id'", pointer)
        hooks: dict[str, Any] = dict(
            hmac_secret=secret,
            hmac_header=self.string(t, "listen", "hmac_header", "X-Signature") or "X-Signature",
            hmac_encoding=self.string(t, "listen", "hmac_encoding", "hex",
                                      ("hex", "base64")) or "hex",
            hmac_prefix=self.string(t, "listen", "hmac_prefix", "") or "",
            hmac_timestamp_header=self.string(t, "listen", "hmac_timestamp_header", None),
            hmac_tolerance_seconds=self.integer(t, "listen", "hmac_tolerance_seconds", 300, 1,
                                                7 * 86400) or 300,
            hmac_signed_payload=signed,
            hook_entity=self.string(t, "listen", "hook_entity", "order",
                                    ("order", "invoice", "creditmemo")) or "order",
            hook_id_pointer=pointer,
            read_timeout_seconds=self.integer(t, "listen", "read_timeout_seconds", 10, 1,
                                              300) or 10,
            max_connections=self.integer(t, "listen", "max_connections", 32, 1, 1000) or 32)
        return ListenSettings(
            **hooks,
            commerce_public_key=self.file_path(t, "listen", "commerce_public_key",
                                               must_exist=True),
            io_client_id=self.string(t, "listen", "io_client_id", None),
            io_public_keys=self.file_path(t, "listen", "io_public_keys", must_exist=True),
            host=self.string(t, "listen", "host", "127.0.0.1") or "127.0.0.1",
            port=self.integer(t, "listen", "port", 8787, 1, 65535) or 8787)

    def alerts(self, ledger: LedgerSettings, status: StatusSettings) -> AlertSettings:
        """[alerts]: channels and thresholds. The silence thresholds default to [status]'s
        and [ledger]'s, so `status --check` and the alerts agree unless told otherwise."""
        t = self.section("alerts", ALERT_KEYS)
        host = self.string(t, "alerts", "smtp_host", None)
        security = self.string(t, "alerts", "security", "starttls", SMTP_SECURITY) \
            or "starttls"
        smtp_keys = [k for k in ("smtp_port", "security", "username", "password", "from", "to")
                     if k in t]
        if host is None and smtp_keys:
            raise RecipeError(f"{self.path}: key 'alerts.{smtp_keys[0]}' needs "
                              "'alerts.smtp_host' (the SMTP server that sends the alerts).")
        sender = self.string(t, "alerts", "from", None)
        recipients = t.get("to", [])
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not all(
                isinstance(r, str) and re.fullmatch(r"[^@\s,;<>]+@[^@\s,;<>]+", r)
                for r in recipients):
            raise self.fail("alerts.to", 'a list of e-mail addresses such as '
                            '["finance@example.com"]', recipients)
        if host is not None:
            if sender is None or not re.fullmatch(r"[^@\s,;<>]+@[^@\s,;<>]+", sender):
                raise self.fail("alerts.from", "the sender's e-mail address", sender)
            if not recipients:
                raise RecipeError(f"{self.path}: [alerts] smtp_host needs 'to' (a list of "
                                  "e-mail addresses that receive the alerts).")
            if security == "none" and not is_loopback(host):
                raise self.fail("alerts.security", '"starttls" or "tls": "none" sends in '
                                "clear text and is allowed only for a server on this machine "
                                f"(127.0.0.1, localhost), not {host}", security)
        username = self.string(t, "alerts", "username", None)
        password = t.get("password")
        if password is not None and (not isinstance(password, str) or not password):
            raise RecipeError(f"{self.path}: key 'alerts.password': expected a non-empty text; "
                              'write password = "${SMTP_PASSWORD}" and set it in .env.')
        if password is not None and username is None:
            raise RecipeError(f"{self.path}: key 'alerts.password' needs 'alerts.username'.")
        default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
        webhook = t.get("webhook_url")
        if webhook is not None:
            found = re.match(r"^(https?)://([^/:?#]+|\[[^\]]+\])", webhook) \
                if isinstance(webhook, str) else None
            if found is None or (found.group(1) == "http" and not is_loopback(found.group(2))):
                raise RecipeError(f"{self.path}: key 'alerts.webhook_url': expected an https:// "
                                  "URL (http:// only for a receiver on this machine); "
                                  'write webhook_url = "${ALERT_WEBHOOK_URL}" and set it in '
                                  ".env: the URL is a secret.")
        triggers = self.strings(t, "alerts", "triggers", list(ALERT_TRIGGERS))
        for name in triggers:
            if name not in ALERT_TRIGGERS:
                raise self.fail("alerts.triggers", "a list of " + ", ".join(ALERT_TRIGGERS),
                                name)
        hours = t.get("trading_hours")
        trading = None
        if hours is not None:
            try:
                trading = parse_trading_hours(hours)
            except TradingHoursError as error:
                raise RecipeError(f"{self.path}: key 'alerts.trading_hours': {error}.") from None
        timeout = self.number(t, "alerts", "timeout_seconds", 20.0)
        if timeout <= 0:
            raise self.fail("alerts.timeout_seconds", "a positive number of seconds", timeout)
        return AlertSettings(
            smtp_host=host,
            smtp_port=self.integer(t, "alerts", "smtp_port", default_port, 1, 65535)
            or default_port,
            security=security, username=username, password=password, sender=sender,
            recipients=tuple(recipients),
            ca_file=self.file_path(t, "alerts", "ca_file", must_exist=True),
            timeout_seconds=timeout, webhook_url=webhook, triggers=tuple(triggers),
            max_hours_since_success=self.number(t, "alerts", "max_hours_since_success",
                                                status.max_hours_since_success),
            max_pending_hours=self.number(t, "alerts", "max_pending_hours",
                                          status.max_pending_hours),
            unconfirmed_after_runs=self.integer(t, "alerts", "unconfirmed_after_runs",
                                                ledger.unconfirmed_after_runs, 1, 1000)
            or ledger.unconfirmed_after_runs,
            trading_hours=trading,
            max_quiet_trading_hours=self.number(t, "alerts", "max_quiet_trading_hours", 2.0))
