"""The customer master from Sage through the CLI, against the customer simulator on loopback:
parse-sage --kind customers | push-magento maps each Sage account to its Magento customer (the
ledger, then the e-mail) and pushes what Sage owns (group, on-hold attribute, addresses when
Sage owns them); dry run, the group guard, partial failure, unknown and duplicate accounts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from tests.magento_sim_customers import CustomerSimulator
from tests.magento_sim_customers import make_customer_sim as make_customer_sim

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sage" / "sage50_uk" / "customers.csv"
HEADER = ("A/C,Name,e-mail,Price List,On Hold,Address Line 1,Address Line 2,Address Line 3,"
          "Address Line 4,Address Line 5,COUNTRY_CODE,Telephone\r\n")


def recipe_text(url: str, customers: str = "", chunk: int = 20) -> str:
    return f"""
name = "customers"
state_dir = "state"
[magento]
base_url = "{url}"
token = "${{SHOP_TOKEN}}"
[sage]
product = "sage50_uk"
[push]
chunk_size = {chunk}
[customers]
groups = {{ "TRADE" = 2, "WHOLESAL" = 3 }}
hold_attribute = "sage_on_hold"
{customers}
"""


@pytest.fixture
def shop(tmp_path: Path, make_customer_sim) -> tuple[Path, CustomerSimulator]:  # type: ignore[no-untyped-def]
    sim = make_customer_sim()
    recipe = tmp_path / "customers.toml"
    recipe.write_text(recipe_text(sim.url), encoding="utf-8")
    (tmp_path / ".env").write_text("SHOP_TOKEN=tok\n", encoding="utf-8")
    return recipe, sim


def push(run_cli, recipe: Path, path: Path, *options: str):  # type: ignore[no-untyped-def]
    parsed = run_cli("-r", str(recipe), "parse-sage", str(path), "--kind", "customers")
    assert parsed.exit_code == 0, parsed.output
    return run_cli("-r", str(recipe), "push-magento", "--from", parsed.stdout.strip(), *options)


def attribute(customer: dict[str, Any], code: str) -> str | None:
    return next((a["value"] for a in customer.get("custom_attributes") or []
                 if a["attribute_code"] == code), None)


def write(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(r + "\r\n" for r in rows), encoding="utf-8")
    return path


def test_the_sample_export_sets_groups_and_the_hold_attribute_by_email(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    recipe, sim = shop
    dry = push(run_cli, recipe, SAMPLE, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert sim.puts == []
    assert "OSULLIVA (customer 2): group 1 -> 2" in dry.output
    assert "SHAHPRIY (customer 3): group 1 -> 3" in dry.output
    assert "SHAHPRIY (customer 3): sage_on_hold (none) -> 1" in dry.output
    # the e-mail is matched without regard to case (Jane.Whitfield@ in Sage)
    assert "WHITFIEL (customer 1): sage_on_hold (none) -> 0" in dry.output
    assert "CASHSALE: not in the ledger and no e-mail in the export" in dry.output
    with Ledger(recipe.parent / "state" / "ledger.sqlite") as ledger:
        assert ledger.pushed("customers") == {} and ledger.account_refs() == {}

    pushed = push(run_cli, recipe, SAMPLE)
    assert pushed.exit_code == 0, pushed.output
    assert sim.schema_errors == []
    assert {c: sim.customer(c)["group_id"] for c in (1, 2, 3, 4)} == {1: 1, 2: 2, 3: 3, 4: 1}
    assert [attribute(sim.customer(c), "sage_on_hold") for c in (1, 2, 3, 4)] == \
        ["0", "0", "1", "0"]
    # Magento owns the rest: names, addresses and e-mail are sent back as they were
    before = {c["id"]: c for c in sim.rows("customers")}
    assert before[2]["addresses"] and len(before[2]["addresses"]) == 2
    assert before[1]["email"] == "jane.whitfield@example.co.uk"
    with Ledger(recipe.parent / "state" / "ledger.sqlite") as ledger:
        # the e-mail matches are remembered: later orders post to Sage's own accounts
        assert ledger.account_refs() == {"customer:1": "WHITFIEL", "customer:2": "OSULLIVA",
                                         "customer:3": "SHAHPRIY", "customer:4": "LAURENTA"}
    # a rerun finds nothing changed: not one customer is read or written
    requests = len(sim.requests)
    again = push(run_cli, recipe, SAMPLE)
    assert again.exit_code == 0 and "0 changed since the last push, 4 unchanged" in again.output
    assert len(sim.requests) == requests
    listed = run_cli("-r", str(recipe), "accounts", "list")
    assert "SHAHPRIY\tcustomer:3\tsage\tapproved; Sage pushed" in listed.output


def test_a_customer_with_nothing_to_change_is_not_written(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, sim = shop
    sim.upsert("customers", {"id": 4, "group_id": 1,
                             "custom_attributes": [{"attribute_code": "sage_on_hold",
                                                    "value": "0"}]})
    export = write(tmp_path / "c.csv", "LAURENTA,Amélie Laurent,amelie.laurent@example.fr,,0,"
                   ",,,,,,")
    result = push(run_cli, recipe, export)
    assert result.exit_code == 0, result.output
    assert sim.puts == [] and "wrote 0 customers" in result.output


def test_addresses_are_pushed_only_when_sage_owns_them(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, sim = shop
    export = write(tmp_path / "c.csv", "WHITFIEL,Jane Whitfield,jane.whitfield@example.co.uk,"
                   ",0,2 New Street,,York,North Yorkshire,YO1 7HH,GB,01904 000000")
    assert push(run_cli, recipe, export).exit_code == 0
    assert sim.customer(1)["addresses"][0]["city"] == "Leeds"  # Magento owns them (default)

    recipe.write_text(recipe_text(sim.url, 'addresses = "sage"'), encoding="utf-8")
    owned = push(run_cli, recipe, export)
    assert owned.exit_code == 0, owned.output
    [address] = sim.customer(1)["addresses"]
    assert (address["street"], address["city"], address["postcode"], address["telephone"],
            address["region"]["region"], address["id"]) == \
        (["2 New Street"], "York", "YO1 7HH", "01904 000000", "North Yorkshire", 11)
    assert sim.schema_errors == []


def test_unknown_and_duplicate_accounts_are_reported_never_guessed(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, sim = shop
    # a second customer with Priya's e-mail on another website: which one is Sage's?
    twin = {**sim.customer(3), "id": 9, "website_id": 2, "email": "PRIYA.SHAH@example.com"}
    sim.upsert("customers", twin)
    export = write(tmp_path / "c.csv",
                   "SHAHPRIY,Priya Shah,priya.shah@example.com,TRADE,0,,,,,,,",
                   "NOBODY,No Body,nobody@example.com,TRADE,0,,,,,,,",
                   "OSULLIVA,OSF,accounts@osf-trading.example.co.uk,TRADE,0,,,,,,,",
                   "OSF2,OSF again,accounts@osf-trading.example.co.uk,WHOLESAL,0,,,,,,,")
    result = push(run_cli, recipe, export, "--json")
    assert result.exit_code == ExitCode.HELD, result.output
    report = json.loads(result.stdout)
    assert any("SHAHPRIY: e-mail priya.shah@example.com matches Magento customers 3 and 9"
               in f for f in report["failed"])
    assert any("OSF2: Magento customer 2 is also Sage account OSULLIVA" in f
               for f in report["failed"])
    assert report["unknown_accounts"] == ["NOBODY: no Magento customer with e-mail "
                                          "nobody@example.com"]
    assert sim.puts == []  # none of them decided: nothing written


def test_one_customer_refused_does_not_stop_the_others(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, make_customer_sim) -> None:
    sim = make_customer_sim(group_ids=frozenset({0, 1, 2}))  # no group 3 in this store
    recipe = tmp_path / "customers.toml"
    recipe.write_text(recipe_text(sim.url), encoding="utf-8")
    (tmp_path / ".env").write_text("SHOP_TOKEN=tok\n", encoding="utf-8")
    result = push(run_cli, recipe, SAMPLE)
    assert result.exit_code == ExitCode.HELD, result.output
    assert "failed: SHAHPRIY (customer 3): HTTP 400: The specified customer group id does " \
        "not exist." in result.output
    assert sim.customer(2)["group_id"] == 2 and sim.customer(3)["group_id"] == 1
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert "customer:3" not in ledger.pushed("customers")  # tried again next time
        assert "customer:2" in ledger.pushed("customers")


def test_the_group_guard_refuses_a_mass_move_unless_forced(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, sim = shop
    assert push(run_cli, recipe, SAMPLE).exit_code == 0
    shifted = tmp_path / "shifted.csv"
    text = SAMPLE.read_text(encoding="cp1252")
    shifted.write_text(text.replace(",,0,500.00", ",TRADE,0,500.00")
                       .replace(",TRADE,0,5000.00", ",WHOLESAL,0,5000.00")
                       .replace(",WHOLESAL,1,", ",TRADE,1,"), encoding="cp1252")
    refused = push(run_cli, recipe, shifted)
    assert refused.exit_code == ExitCode.HELD, refused.output
    assert "REFUSED by the customer group guard: 2 of 2 customers would change" in \
        refused.output
    assert sim.customer(2)["group_id"] == 2 and sim.customer(3)["group_id"] == 3
    forced = push(run_cli, recipe, shifted, "--force")
    assert forced.exit_code == 0, forced.output
    assert [sim.customer(c)["group_id"] for c in (1, 2, 3)] == [2, 3, 2]
    status = run_cli("-r", str(recipe), "status", "--json")
    activity = json.loads(status.stdout)["catalog"]
    assert any("would change customer group" in r["why"] for r in activity["refused"])
    assert "customers" in {p["kind"] for p in activity["last_pushes"]}


def test_a_recipe_column_mapping_and_the_watched_folder(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, sim = shop
    recipe.write_text(recipe_text(sim.url) + '[sage_export]\ncolumns = { account = "Ref", '
                      'band = "Band", credit_status = "Stop", email = "Mail" }\n',
                      encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "customers-2026-12-01.csv").write_text(
        "Ref,Mail,Band,Stop\r\nOSULLIVA,accounts@osf-trading.example.co.uk,WHOLESAL,Yes\r\n",
        encoding="utf-8")
    result = run_cli("-r", str(recipe), "watch", str(inbox), "--once", "--settle", "0")
    assert result.exit_code == 0, result.output
    assert sim.customer(2)["group_id"] == 3 and attribute(sim.customer(2), "sage_on_hold") == "1"
    assert list((inbox / "archive").rglob("customers-2026-12-01.csv"))


def test_customer_recipe_mistakes_are_named(run_cli, shop) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = shop
    good = recipe_text(sim.url)
    for bad, words in (('groups = { "A" = "two" }', "customers.groups"),
                       ('new_accounts = "later"', "customers.new_accounts"),
                       ('hold_attribute = "On Hold"', "customers.hold_attribute"),
                       ("max_group_change_pct = 120", "customers.max_group_change_pct")):
        key = bad.split(" = ")[0]
        lines = [line for line in good.splitlines() if not line.startswith(key + " =")]
        recipe.write_text("\n".join(lines).replace("[customers]", f"[customers]\n{bad}"),
                          encoding="utf-8")
        result = run_cli("-r", str(recipe), "parse-sage", str(SAMPLE), "--kind", "customers")
        assert result.exit_code == ExitCode.USAGE and words in result.output, result.output


def test_the_sample_export_of_every_product_parses(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, sim = shop
    for product in ("sage50_us", "sage100", "sage200", "sage300", "sagex3", "intacct"):
        copy = tmp_path / f"{product}.csv"
        shutil.copy(ROOT / "samples" / "sage" / product / "customers.csv", copy)
        recipe.write_text(recipe_text(sim.url) + f'[sage_export]\nproduct = "{product}"\n',
                          encoding="utf-8")
        parsed = run_cli("-r", str(recipe), "parse-sage", str(copy), "--kind", "customers")
        assert parsed.exit_code == 0, (product, parsed.output)
        assert "parsed 5 customers rows" in parsed.output


def test_the_group_guard_counts_every_known_customer_not_only_the_changed_ones(
        ) -> None:
    from decimal import Decimal

    from sagesync.catalog.customers import check_groups

    known = {f"A{n}": (2, 2) for n in range(9)}
    one_move = check_groups({**known, "B": (2, 3)}, Decimal(20))
    assert (one_move.compared, len(one_move.moves), one_move.tripped) == (10, 1, False)
    three = check_groups({**dict(list(known.items())[:7]), "B": (2, 3), "C": (3, 2),
                          "D": (1, 2), "NEW": (None, 2)}, Decimal(20))
    assert (three.compared, len(three.moves), three.tripped) == (10, 3, True)
