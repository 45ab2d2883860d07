"""New web customers under `[customers] new_accounts = "review"`: their documents wait in `held`
("account awaiting approval") until `sagesync accounts approve REF` or a Sage customer export
that lists the account releases them; and a customer push killed at any point, then rerun,
changes each customer once, with nothing lost."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger, RecordKey
from tests.conftest import ROOT
from tests.magento_sim_customers import CustomerSimulator
from tests.magento_sim_customers import make_customer_sim as make_customer_sim
from tests.test_customers_push import HEADER, SAMPLE, recipe_text
from tests.test_order_updates import sagesync

INVOICE_1 = RecordKey("invoice", 1, 1)  # Jane Whitfield's: a new account, WHITFI01
INVOICE_5 = RecordKey("invoice", 5, 1)  # Priya Shah's: a new account, SHAHPR01


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    sim = CustomerSimulator.from_folder(ROOT / "samples" / "magento", token="tok")
    sim.start(host="127.0.0.1")
    yield sim
    sim.stop()


def review_recipe(tmp_path: Path, sim: CustomerSimulator) -> Path:
    text = (ROOT / "recipes" / "demo.toml").read_text(encoding="utf-8").replace(
        'source = "../samples/magento"', f'base_url = "{sim.url}"\ntoken = "tok"')
    text = text.replace("../samples/", f"{(ROOT / 'samples').as_posix()}/")
    text = text.replace('state_dir = "../demo-state"', 'state_dir = "state"')
    text = text.replace('path = "../demo-state/outbox"', 'path = "outbox"')
    text += ('\n[customers]\nnew_accounts = "review"\ngroups = { "WHOLESAL" = 3 }\n'
             'hold_attribute = "sage_on_hold"\n')
    recipe = tmp_path / "shop.toml"
    recipe.write_text(text, encoding="utf-8")
    return recipe


def states(tmp_path: Path) -> dict[RecordKey, tuple[str, str | None]]:
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        return {k: (r.state, ledger.causes_of([k]).get(k, None) and
                    ledger.causes_of([k])[k].code)
                for k in (INVOICE_1, INVOICE_5) if (r := ledger.find(k))}


def test_review_holds_new_accounts_until_approved_or_listed_by_sage(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, store: CustomerSimulator) -> None:
    recipe = review_recipe(tmp_path, store)
    first = run_cli("run", str(recipe), "--until", "2027-01-01")
    assert first.exit_code == ExitCode.HELD, first.output
    assert states(tmp_path) == {INVOICE_1: ("held", "account_awaiting_approval"),
                                INVOICE_5: ("held", "account_awaiting_approval")}
    waiting = run_cli("-r", str(recipe), "accounts", "list", "--waiting", "--json")
    assert {(r["account"], r["waiting"]) for r in json.loads(waiting.stdout)} == \
        {("WHITFI01", 1), ("SHAHPR01", 1)}

    nobody = run_cli("-r", str(recipe), "accounts", "approve", "NOBODY")
    assert nobody.exit_code == ExitCode.HELD and "not waiting for approval: NOBODY" in \
        nobody.output
    approved = run_cli("-r", str(recipe), "accounts", "approve", "WHITFI01")
    assert approved.exit_code == 0 and "approved: WHITFI01 (1 documents released" in \
        approved.output
    assert states(tmp_path)[INVOICE_1][0] == "exported"
    second = run_cli("run", str(recipe), "--until", "2027-01-01")
    assert states(tmp_path)[INVOICE_1][0] == "sent", second.output
    assert states(tmp_path)[INVOICE_5] == ("held", "account_awaiting_approval")
    sent = "".join(p.read_text(encoding="cp1252") for p in (tmp_path / "outbox").glob("*.csv"))
    assert "WHITFI01" in sent and "SHAHPR01" not in sent
    traced = run_cli("-r", str(recipe), "trace", "invoice:1@1")
    assert "account WHITFI01: approved" in traced.output, traced.output

    # Sage's customer export lists Priya under the account the bookkeeper opened for her
    export = tmp_path / "customers.csv"
    export.write_text(HEADER + "SHAHPRIY,Priya Shah,priya.shah@example.com,WHOLESAL,0,,,,,,,"
                      "\r\n", encoding="utf-8")
    parsed = run_cli("-r", str(recipe), "parse-sage", str(export), "--kind", "customers")
    pushed = run_cli("-r", str(recipe), "push-magento", "--from", parsed.stdout.strip())
    assert pushed.exit_code == 0, pushed.output
    assert "account approved: SHAHPRIY (customer 3): 1 documents released" in pushed.output
    assert store.customer(3)["group_id"] == 3
    third = run_cli("run", str(recipe), "--until", "2027-01-01")
    assert states(tmp_path)[INVOICE_5][0] == "sent", third.output
    sent = "".join(p.read_text(encoding="cp1252") for p in (tmp_path / "outbox").glob("*.csv"))
    assert "SHAHPRIY" in sent and "SHAHPR01" not in sent  # posted to Sage's own account
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert ledger.account_refs()["customer:3"] == "SHAHPRIY"
        assert ledger.unapproved_accounts() == set()


def test_create_mode_sends_new_accounts_at_once(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, store: CustomerSimulator) -> None:
    recipe = review_recipe(tmp_path, store)
    recipe.write_text(recipe.read_text(encoding="utf-8").replace(
        'new_accounts = "review"', 'new_accounts = "create"'), encoding="utf-8")
    run_cli("run", str(recipe), "--until", "2027-01-01")
    assert {s for s, _ in states(tmp_path).values()} == {"sent"}


# ------------------------------------------------------------------ a push killed and rerun

def crash_and_rerun(tmp_path: Path, sim: CustomerSimulator, crash_at: str) -> None:
    recipe = tmp_path / "customers.toml"
    recipe.write_text(recipe_text(sim.url, chunk=2), encoding="utf-8")
    (tmp_path / ".env").write_text("SHOP_TOKEN=tok\n", encoding="utf-8")
    parsed = sagesync(recipe, "parse-sage", str(SAMPLE), "--kind", "customers")
    assert parsed.returncode == 0, parsed.stderr
    manifest = parsed.stdout.strip()
    crashed = sagesync(recipe, "push-magento", "--from", manifest, crash_at=crash_at)
    assert crashed.returncode in (0, 137), crashed.stderr
    again = sagesync(recipe, "push-magento", "--from", manifest)
    assert again.returncode == 0, again.stderr
    # every change landed, and no customer was written twice
    assert {c: sim.customer(c)["group_id"] for c in (1, 2, 3, 4)} == {1: 1, 2: 2, 3: 3, 4: 1}
    written = [customer_id for customer_id, _ in sim.puts]
    assert sorted(written) == [1, 2, 3, 4] and sim.schema_errors == []
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert set(ledger.pushed("customers")) == {f"customer:{c}" for c in (1, 2, 3, 4)}
    final = sagesync(recipe, "-v", "push-magento", "--from", manifest)
    assert final.returncode == 0 and "0 changed since the last push, 4 unchanged" in final.stderr


@pytest.mark.parametrize("crash_at", ["customer-written:3", "customer-chunk:1"])
def test_a_push_killed_mid_way_and_rerun_changes_each_customer_once(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_customer_sim, crash_at: str) -> None:
    crash_and_rerun(tmp_path, make_customer_sim(), crash_at)


@pytest.mark.slow
def test_random_kills_of_the_customer_push(tmp_path: Path, make_customer_sim) -> None:  # type: ignore[no-untyped-def]
    rnd = random.Random(15)
    for trial in range(20):
        point = rnd.choice(["customer-written", "customer-chunk"])
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        crash_and_rerun(folder, make_customer_sim(), f"{point}:{rnd.randint(1, 4)}")
