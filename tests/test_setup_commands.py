"""sagesync init, doctor and schedule, through the CLI, against the Magento REST simulator.

The path a new operator takes: `init --no-input` reads the store's views and tax rates into a
recipe, `doctor` fails only on the secrets until the .env is filled in, then passes every
check; a missing ACL resource, bad credentials and an unmapped tax rate are each named.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from sagesync.ops.doctor import delivery_check
from sagesync.ops.init_recipe import Answers, write_files
from sagesync.ops.schedule import build
from sagesync.recipe import load_recipe, variables_used
from sagesync.sage import products
from tests.conftest import subprocess_env
from tests.fixtures_magento import MAGENTO_SAMPLES

TOKEN = "sim-secret-token-4f2a"


@pytest.fixture
def store(make_magento_sim):  # type: ignore[no-untyped-def]
    """The samples' orders behind bearer token TOKEN."""
    return make_magento_sim(folder=MAGENTO_SAMPLES, token=TOKEN)


def lines(output: str) -> dict[str, tuple[str, str]]:
    """doctor's table: check name -> (status, detail)."""
    found = {}
    for line in output.splitlines():
        parts = line.split(None, 1)
        if parts and parts[0] in ("ok", "FAIL", "skip"):
            name, _, detail = parts[1].partition("  ")
            found[name.strip()] = (parts[0], detail.strip())
    return found


def init_site(run_cli, folder: Path, url: str, monkeypatch, *extra: str):  # type: ignore[no-untyped-def]
    """init --no-input with the token in the environment (so the store is read), then the
    environment emptied again, as on the operator's next shell."""
    monkeypatch.setenv("MAGENTO_TOKEN", TOKEN)
    result = run_cli("init", str(folder), "--no-input", "--product", "sage50_uk",
                     "--store-url", url, *extra)
    monkeypatch.delenv("MAGENTO_TOKEN")
    assert result.exit_code == 0, result.output
    return result


def fill_env(folder: Path, token: str = TOKEN) -> None:
    env = folder / ".env"
    env.write_text(env.read_text(encoding="utf-8").replace("MAGENTO_TOKEN=",
                                                           f"MAGENTO_TOKEN={token}"),
                   encoding="utf-8")


def test_init_then_doctor_passes_once_the_env_is_filled(run_cli, store, tmp_path,
                                                        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "shop"
    init_site(run_cli, site, store.url, monkeypatch)
    recipe_text = (site / "sagesync.toml").read_text(encoding="utf-8")
    assert TOKEN not in recipe_text and "${MAGENTO_TOKEN}" in recipe_text
    data = tomllib.loads(recipe_text)
    assert data["magento"]["store_ids"] == [1, 2]  # the simulator's store views
    assert "French Store View" in recipe_text
    assert data["mapping"]["tax_codes"] == {"20": "T1", "5": "T5", "0": "T0"}
    assert "GB-VAT-Reduced" in recipe_text  # each rate says which Magento rates it is
    assert (site / "mapping" / "nominals.csv").read_text() == "kind,value,nominal\n"
    assert (site / "mapping" / "customers.csv").read_text() == "email,account_ref\n"
    assert not (site / "mapping" / "items.csv").exists()  # Sage 50 UK posts no item lines
    assert (site / ".env").read_text().count("MAGENTO_TOKEN=\n") == 1

    before = run_cli("doctor", "-r", str(site / "sagesync.toml"))
    checks = lines(before.output)
    assert before.exit_code == 1
    assert [n for n, (s, _) in checks.items() if s == "FAIL"] == ["${MAGENTO_TOKEN}"]
    assert "MAGENTO_TOKEN" in checks["${MAGENTO_TOKEN}"][1]
    assert checks["recipe"][0] == "ok" and checks["magento"][0] == "skip"

    fill_env(site)
    after = run_cli("doctor", "-r", str(site / "sagesync.toml"))
    assert after.exit_code == 0, after.output
    checks = lines(after.output)
    assert all(status == "ok" for status, _ in checks.values()), after.output
    for name in ("orders", "invoices", "creditmemos", "customers"):
        assert checks[f"access: {name}"][0] == "ok"
    assert "20 %" in checks["tax rates"][1]
    assert TOKEN not in after.output  # a secret is named, never shown
    # the doctor asked the store for the latest orders, newest first
    asked = [r for r in store.requests if r.endpoint == "/V1/orders"
             and r.query.get("searchCriteria[pageSize]") == "100"]
    assert asked and asked[0].query["searchCriteria[sortOrders][0][direction]"] == "DESC"


@pytest.mark.parametrize("status", [403, 401])
def test_doctor_names_the_missing_acl_resource(run_cli, store, tmp_path, monkeypatch,
                                               status) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "shop"
    init_site(run_cli, site, store.url, monkeypatch)
    fill_env(site)
    store.refused_resources = {"Magento_Sales::sales_creditmemo": status}
    result = run_cli("doctor", "-r", str(site / "sagesync.toml"))
    assert result.exit_code == 1
    checks = lines(result.output)
    assert checks["credentials"][0] == "ok"  # the other endpoints let them in
    state, detail = checks["access: creditmemos"]
    assert state == "FAIL" and "Magento_Sales::sales_creditmemo" in detail
    assert f"refused ({status})" in detail
    assert checks["access: invoices"][0] == "ok"


def test_doctor_bad_credentials_is_one_line(run_cli, store, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "shop"
    init_site(run_cli, site, store.url, monkeypatch)
    fill_env(site, "wrong-token-77")
    result = run_cli("doctor", "-r", str(site / "sagesync.toml"), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if c["status"] == "FAIL"]
    assert [c["name"] for c in failed] == ["credentials"]
    assert "401" in failed[0]["detail"]
    assert not any(c["name"].startswith("access:") for c in report["checks"])
    assert "wrong-token-77" not in result.output


def test_doctor_fails_on_a_tax_rate_the_recipe_does_not_map(run_cli, store, tmp_path,
                                                            monkeypatch) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "shop"
    init_site(run_cli, site, store.url, monkeypatch)
    fill_env(site)
    recipe = site / "sagesync.toml"
    recipe.write_text(recipe.read_text().replace('"5" = "T5"', '# "5" = "T5"'))
    result = run_cli("doctor", "-r", str(recipe))
    assert result.exit_code == 1
    state, detail = lines(result.output)["tax rates"]
    assert state == "FAIL" and "5 %" in detail and "20 %" not in detail
    assert '"5" = "<Sage tax code>"' in detail


def test_init_comments_out_a_rate_the_product_has_no_code_for(run_cli, store, tmp_path,
                                                              monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store.TAX_RATES = [*store.TAX_RATES, {"id": 9, "tax_country_id": "IE", "rate": 13.5,
                                          "code": "IE-Reduced", "tax_postcode": "*"}]
    site = tmp_path / "shop"
    init_site(run_cli, site, store.url, monkeypatch)
    text = (site / "sagesync.toml").read_text()
    assert '# "13.5" = ""   # IE-Reduced (IE)' in text
    monkeypatch.setenv("MAGENTO_TOKEN", "x")
    assert decimal_keys(load_recipe(site / "sagesync.toml").mapping.tax_codes) == {"20", "5",
                                                                                    "0"}


def decimal_keys(table) -> set[str]:  # type: ignore[no-untyped-def]
    return {f"{k:f}" for k in table}


def test_doctor_on_an_invalid_recipe_names_the_key(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_files(tmp_path, Answers("sage50_uk", "https://shop.example.com/rest/default",
                                  "bearer", "Europe/London"))
    recipe = tmp_path / "sagesync.toml"
    recipe.write_text(recipe.read_text().replace("page_size = 100", "page_sise = 100"))
    result = run_cli("doctor", "-r", str(recipe))
    assert result.exit_code == 1
    state, detail = lines(result.output)["recipe"]
    assert state == "FAIL" and "magento.page_sise" in detail
    assert "Traceback" not in result.output


def test_doctor_on_the_offline_demo_passes(run_cli, demo_copy) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("doctor", "-r", str(demo_copy), "--json")
    assert result.exit_code == 0, result.output
    names = [c["name"] for c in json.loads(result.output)["checks"]]
    assert names == ["recipe", "state folder", "delivery", "mapping files", "templates",
                     "magento"]


def test_doctor_reports_a_broken_mapping_file(run_cli, demo_copy) -> None:  # type: ignore[no-untyped-def]
    nominals = demo_copy.parent.parent / "samples" / "mapping" / "nominals.csv"
    nominals.write_text("kind,nominal\nsku,4000\n")
    result = run_cli("doctor", "-r", str(demo_copy))
    assert result.exit_code == 1
    state, detail = lines(result.output)["mapping files"]
    assert state == "FAIL" and "nominals.csv" in detail


def test_a_delivery_kind_doctor_does_not_know_is_skipped_not_passed(demo_copy) -> None:
    recipe = load_recipe(demo_copy)
    fake = replace(recipe, delivery=replace(recipe.delivery, kind="sftp"))
    check = delivery_check(fake)
    assert check.status == "skip" and "sftp" in check.detail


@pytest.mark.parametrize("product", products.posting_keys())
def test_init_writes_a_valid_recipe_for_every_product(tmp_path, product) -> None:
    for auth in ("bearer", "oauth1", "admin", "ims"):
        folder = tmp_path / auth
        write_files(folder, Answers(product, "https://shop.example.com/rest/default", auth,
                                    "America/Toronto"))
        path = folder / "sagesync.toml"
        used = variables_used(path)
        assert used and all(name.startswith("MAGENTO_") for name in used)
        env_names = {line.split("=")[0] for line in (folder / ".env").read_text().splitlines()
                     if line and not line.startswith("#")}
        assert env_names == set(used)
        recipe = load_recipe(path, stand_ins=dict.fromkeys(used, "x"))
        assert recipe.sage.product == product and recipe.magento.auth == auth
        assert recipe.sage.timezone == "America/Toronto"
        lines_products = {"sage300", "sagex3", "sage50_us", "sage50_ca", "intacct", "sage100"}
        assert (recipe.mapping.items_csv is not None) == (product in lines_products)


def test_init_asks_and_refuses_to_overwrite(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "shop"
    answers = "sage200\nhttps://shop.example.com\noauth1\nEurope/Paris\n"
    result = run_cli("init", str(site), input=answers)
    assert result.exit_code == 0, result.output
    data = tomllib.loads((site / "sagesync.toml").read_text())
    assert data["sage"] == {"product": "sage200", "post_from": "invoices",
                            "timezone": "Europe/Paris"}
    assert data["magento"]["base_url"] == "https://shop.example.com/rest/default"
    assert data["magento"]["consumer_secret"] == "${MAGENTO_CONSUMER_SECRET}"
    again = run_cli("init", str(site), "--no-input", "--store-url", "https://x.example")
    assert again.exit_code == 2 and "--force" in again.output
    assert tomllib.loads((site / "sagesync.toml").read_text())["sage"]["product"] == "sage200"
    forced = run_cli("init", str(site), "--no-input", "--store-url", "https://x.example",
                     "--force")
    assert forced.exit_code == 0
    assert tomllib.loads((site / "sagesync.toml").read_text())["sage"]["product"] == \
        "sage50_uk"


@pytest.mark.parametrize("args, expected", [
    (("--no-input",), "--store-url"),
    (("--no-input", "--store-url", "shop.example.com"), "http:// or https://"),
    (("--no-input", "--store-url", "https://s.example", "--zone", "Mars/Base"), "IANA"),
])
def test_init_bad_input_is_a_clear_usage_error(run_cli, tmp_path, args, expected) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("init", str(tmp_path / "s"), *args)
    assert result.exit_code == 2 and expected in result.output
    assert not (tmp_path / "s" / "sagesync.toml").exists()


def schedule_recipe(tmp_path: Path, every: str | None) -> Path:
    folder = tmp_path / "my shop"  # a space: every form must quote it
    write_files(folder, Answers("sage50_uk", "https://shop.example.com/rest/default",
                                "bearer", "Europe/London"))
    recipe = folder / "sagesync.toml"
    text = recipe.read_text()
    recipe.write_text(text.replace('every = "15m"', f'every = "{every}"') if every
                      else text.split("[schedule]")[0])
    return recipe


@pytest.mark.parametrize("every, cron, calendar, schtasks", [
    (None, "*/15 * * * *", "*-*-* *:00/15:00", "/SC MINUTE /MO 15"),
    ("2h", "0 */2 * * *", "*-*-* 00/2:00:00", "/SC HOURLY /MO 2"),
    ("1d", "0 0 * * *", "*-*-* 00:00:00", "/SC DAILY"),
])
def test_schedule_prints_every_form_with_absolute_paths(run_cli, tmp_path, every, cron,
                                                        calendar, schtasks) -> None:  # type: ignore[no-untyped-def]
    recipe = schedule_recipe(tmp_path, every)
    result = run_cli("schedule", str(recipe), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    log = str(recipe.parent.resolve() / "state" / "logs" / "sagesync.log")
    assert found["log"] == log and Path(log).parent.is_dir()
    assert found["crontab"].startswith(cron + " ")
    command = shlex.split(found["crontab"][len(cron):])
    assert command[-3:] == [">>", log, "2>&1"]
    assert [*found["executable"], "-q", "run", str(recipe.resolve())] == \
        command[command.index("&&") + 1: -3]
    assert all(Path(part).is_absolute() for part in found["executable"][:1])
    assert f"OnCalendar={calendar}" in found["systemd_timer"]
    assert f"StandardOutput=append:{log}" in found["systemd_service"]
    assert schtasks in found["schtasks"] and f'\\"{log}\\"' in found["schtasks"]
    text = run_cli("schedule", str(recipe)).output
    assert found["crontab"] in text and "[Timer]" in text and "schtasks /Create" in text


def test_schedule_refuses_an_uneven_interval(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("schedule", str(schedule_recipe(tmp_path, "7m")))
    assert result.exit_code == 2
    assert "schedule.every" in result.output and "15m" in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="runs the crontab line with sh")
def test_the_crontab_line_runs_the_demo_quietly_into_its_log(run_cli, demo_copy) -> None:  # type: ignore[no-untyped-def]
    recipe = load_recipe(demo_copy)
    found = build(recipe, [sys.executable, "-m", "sagesync"])
    Path(found.log).parent.mkdir(parents=True)  # as `sagesync schedule` does
    line = found.crontab
    command = line.split(" ", 5)[5]  # the five timing fields off
    done = subprocess.run(["sh", "-c", command], env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == ""  # cron would mail nothing
    log = (recipe.state_dir / "logs" / "sagesync.log").read_text()
    manifest = Path(log.strip().splitlines()[-1])
    assert manifest.name == "manifest.json" and manifest.is_file()  # quiet: only the path
    assert len(log.strip().splitlines()) == 1
    assert os.access(manifest, os.R_OK)


def test_doctor_probes_the_catalog_endpoints_of_a_stock_and_prices_recipe(
        run_cli, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text(f"MAGENTO_URL={store.url}\nMAGENTO_TOKEN={TOKEN}\n")
    recipe = tmp_path / "catalog.toml"
    recipe.write_text((Path(__file__).parent.parent / "recipes" / "stock-prices.toml")
                      .read_text().replace("../state/catalog", "state"))
    store.refused_resources = {"Magento_Catalog::products": 403}
    result = run_cli("doctor", str(recipe))
    checks = lines(result.output)
    assert result.exit_code == 1
    assert checks["access: stock (source items)"][0] == "ok"
    state, detail = checks["access: prices"]
    assert state == "FAIL" and "Magento_Catalog::products" in detail
    assert "access: orders" not in checks  # a catalog recipe exports no orders
    posted = [r for r in store.requests if r.endpoint == "/V1/products/base-prices-information"]
    assert posted and json.loads(posted[0].body) == {"skus": []}  # asks, changes nothing


def test_doctor_when_the_store_does_not_answer(run_cli, make_magento_sim, tmp_path,
                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gone = make_magento_sim(token=TOKEN)
    site = tmp_path / "shop"
    init_site(run_cli, site, gone.url, monkeypatch)
    gone.stop()
    fill_env(site)
    result = run_cli("doctor", "-r", str(site / "sagesync.toml"))
    assert result.exit_code == 1
    state, detail = lines(result.output)["magento"]
    assert state == "FAIL" and "base_url" in detail
    assert "Traceback" not in result.output


def test_doctor_says_it_cannot_try_order_comments(run_cli, store, tmp_path,
                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "shop"
    init_site(run_cli, site, store.url, monkeypatch)
    fill_env(site)
    recipe = site / "sagesync.toml"
    recipe.write_text(recipe.read_text() + "\n[magento_updates]\nenabled = true\n")
    result = run_cli("doctor", "-r", str(recipe))
    assert result.exit_code == 0, result.output
    state, detail = lines(result.output)["access: order comments"]
    assert state == "skip" and "Magento_Sales::comment" in detail
    assert not [r for r in store.requests if r.method == "POST"]  # nothing was written


def test_doctor_checks_the_customer_attribute_and_groups_a_customer_push_writes(
        run_cli, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text(f"MAGENTO_URL={store.url}\nMAGENTO_TOKEN={TOKEN}\n")
    recipe = tmp_path / "catalog.toml"
    text = (Path(__file__).parent.parent / "recipes" / "stock-prices.toml").read_text() \
        .replace("../state/catalog", "state")
    recipe.write_text(text)
    checks = lines(run_cli("doctor", str(recipe)).output)
    state, detail = checks["customer attribute"]
    assert state == "FAIL" and 'hold_attribute = "sage_on_hold"' in detail
    assert checks["customer groups"] == ("ok", "all exist: 2 Wholesale, 3 Retailer")
    assert checks["access: customer updates"][0] == "skip"
    assert "Magento_Customer::manage" in checks["access: customer updates"][1]

    store.add_customer_attribute("sage_on_hold", "On hold in Sage")
    result = run_cli("doctor", str(recipe))
    assert result.exit_code == 0, result.output
    assert lines(result.output)["customer attribute"] == (
        "ok", 'sage_on_hold exists ("On hold in Sage", boolean)')

    recipe.write_text(text.replace('"WHOLESAL" = 3', '"WHOLESAL" = 3, "BAND9" = 9'))
    result = run_cli("doctor", str(recipe))
    assert result.exit_code == 1
    state, detail = lines(result.output)["customer groups"]
    assert state == "FAIL" and "does not have: 9" in detail

    store.refused_resources = {"Magento_Customer::group": 403}
    state, detail = lines(run_cli("doctor", str(recipe)).output)["customer groups"]
    assert state == "FAIL" and "Magento_Customer::group" in detail and "refused (403)" in detail
