"""Alerts end to end: real runs of the demo recipe, an SMTP server on loopback that requires
STARTTLS (its certificate trusted only through [alerts] ca_file) and a login, and a loopback
HTTP receiver for the webhook. Each cause is announced once while it lasts and once when it
clears; a channel that fails is a warning and is retried; nothing secret leaves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sagesync.alerts.engine import evaluate
from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from sagesync.recipe import load_recipe
from tests.conftest import ROOT
from tests.fixtures_alerts import (
    SMTP_PASSWORD,
    HttpReceiver,
    SmtpServer,
    http_receiver,  # noqa: F401 - fixture
    smtp_server,  # noqa: F401 - fixture
    smtp_tls_server,  # noqa: F401 - fixture
)

HOOK_SECRET = "T0SECRET/B0SECRET/XyZsecretPath"
TAX_FIVE = ', "5" = "T5"'


def alert_recipe(recipe: Path, smtp: SmtpServer | None, receiver: HttpReceiver | None,
                 extra: str = "", *, security: str = "starttls") -> Path:
    """The demo copy with [alerts] on the given receivers; secrets in .env beside it."""
    lines = ["", "[alerts]"]
    env = []
    if smtp is not None:
        lines += [f'smtp_host = "{smtp.host}"', f"smtp_port = {smtp.port}",
                  f'security = "{security}"', 'username = "alerts"',
                  'password = "${SMTP_PASSWORD}"', 'from = "sagesync@example.com"',
                  'to = ["finance@example.com", "ops@example.com"]',
                  f'ca_file = "{smtp.ca_file.as_posix()}"']
        env.append(f"SMTP_PASSWORD={SMTP_PASSWORD}")
    if receiver is not None:
        lines.append('webhook_url = "${ALERT_WEBHOOK}"')
        env.append(f"ALERT_WEBHOOK={receiver.url}/hook/{HOOK_SECRET}")
    recipe.write_text(recipe.read_text(encoding="utf-8") + "\n".join(lines) + "\n" + extra,
                      encoding="utf-8")
    (recipe.parent / ".env").write_text("\n".join(env) + "\n", encoding="utf-8")
    return recipe


def without_five_percent(recipe: Path) -> None:
    text = recipe.read_text(encoding="utf-8")
    assert TAX_FIVE in text
    recipe.write_text(text.replace(TAX_FIVE, ""), encoding="utf-8")


def with_five_percent(recipe: Path) -> None:
    text = recipe.read_text(encoding="utf-8")
    recipe.write_text(text.replace('"0" = "T0" }', '"0" = "T0"' + TAX_FIVE + " }"),
                      encoding="utf-8")


def texts(smtp: SmtpServer) -> list[str]:
    return [m.get_content() for m in smtp.received]


def assert_nothing_secret(smtp: SmtpServer | None, receiver: HttpReceiver | None,
                          *also: str) -> None:
    blobs = [*(m.as_string() for m in (smtp.received if smtp else [])),
             *(json.dumps(p) for p in (receiver.posts if receiver else []))]
    for blob in blobs:
        for secret in (SMTP_PASSWORD, HOOK_SECRET, "XyZsecretPath", *also):
            assert secret not in blob


def test_held_records_alert_once_by_mail_and_webhook_then_resolve(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, smtp_server: SmtpServer,  # noqa: F811
        http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, smtp_server, http_receiver)
    without_five_percent(recipe)
    first = run_cli("run", str(recipe))
    assert first.exit_code == ExitCode.HELD, first.output
    assert "alert: 4 records held: no Sage tax code for a rate" in first.output
    # one message per channel, naming the exact cause
    assert len(smtp_server.received) == 1 and len(http_receiver.posts) == 1
    mail = smtp_server.received[0]
    assert mail["Subject"] == "[sagesync demo] ALERT: 4 records held: no Sage tax code for a rate"
    assert mail["To"] == "finance@example.com, ops@example.com"
    assert smtp_server.logins == ["alerts"]  # logged in, after STARTTLS (the server insists)
    body = mail.get_content().replace("\r\n", "\n")
    assert "cause: held:unmapped_tax_rate" in body
    assert "invoice:4@1: line 'HE-LED-10': no Sage tax code for a 5% rate" in body
    assert (f"sagesync -r {recipe.resolve()} retry creditmemo:2@1 invoice:4@1 invoice:5@1 "
            "invoice:8@1") in body
    post = http_receiver.posts[0]
    assert post["text"] == body
    assert [(a["status"], a["cause"]) for a in post["sagesync"]["alerts"]] == [
        ("raised", "held:unmapped_tax_rate")]
    assert http_receiver.paths == [f"/hook/{HOOK_SECRET}"]

    # the cause persists: no second message, from a run or from cron's check
    again = run_cli("run", str(recipe))
    assert again.exit_code == ExitCode.HELD
    check = run_cli("-r", str(recipe), "alerts", "check", "--json")
    assert check.exit_code == 1
    assert [a["cause"] for a in json.loads(check.stdout)["open"]] == ["held:unmapped_tax_rate"]
    assert len(smtp_server.received) == 1 and len(http_receiver.posts) == 1

    # the recipe is fixed: the next run validates them again, delivers, and the alert clears
    with_five_percent(recipe)
    fixed = run_cli("run", str(recipe))
    assert fixed.exit_code == ExitCode.OK, fixed.output
    assert "alert resolved: 4 records held: no Sage tax code for a rate" in fixed.output
    assert len(smtp_server.received) == 2 and len(http_receiver.posts) == 2
    resolved = smtp_server.received[1]
    assert resolved["Subject"] == \
        "[sagesync demo] RESOLVED: 4 records held: no Sage tax code for a rate"
    assert "cause: held:unmapped_tax_rate" in resolved.get_content()
    assert [(a["status"], a["cause"]) for a in http_receiver.posts[1]["sagesync"]["alerts"]] \
        == [("resolved", "held:unmapped_tax_rate")]
    quiet = run_cli("-r", str(recipe), "alerts", "check")
    assert quiet.exit_code == 0 and "no alert open" in quiet.output
    assert len(smtp_server.received) == 2 and len(http_receiver.posts) == 2
    assert_nothing_secret(smtp_server, http_receiver)


def test_a_failing_channel_is_a_warning_and_is_retried_once_it_answers(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, smtp_server: SmtpServer,  # noqa: F811
        http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, smtp_server, http_receiver)
    without_five_percent(recipe)
    http_receiver.fail_with = [500]
    result = run_cli("run", str(recipe))
    assert result.exit_code == ExitCode.HELD  # as without alerts: the sync is not failed
    assert "warning: alert not sent by webhook: the webhook at http://127.0.0.1:" in \
        result.output
    assert "answered 500; it is sent again at the next evaluation" in result.output
    assert HOOK_SECRET not in result.output
    assert len(smtp_server.received) == 1 and http_receiver.posts == []
    check = run_cli("-r", str(recipe), "alerts", "check")
    assert check.exit_code == 1 and "warning" not in check.output
    # the webhook gets it now; the mail, which went the first time, is not sent again
    assert len(http_receiver.posts) == 1 and len(smtp_server.received) == 1
    assert http_receiver.posts[0]["sagesync"]["alerts"][0]["cause"] == "held:unmapped_tax_rate"


def test_an_smtp_server_that_is_down_never_fails_the_run(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, smtp_server: SmtpServer) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, smtp_server, None)
    without_five_percent(recipe)
    recipe.write_text(recipe.read_text(encoding="utf-8").replace(
        f"smtp_port = {smtp_server.port}", "smtp_port = 9"), encoding="utf-8")
    result = run_cli("run", str(recipe))
    assert result.exit_code == ExitCode.HELD, result.output  # as without alerts
    assert "warning: alert not sent by email: Cannot send through the SMTP server " \
        "127.0.0.1:9" in result.output


def test_a_certificate_not_trusted_is_refused_not_ignored(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, smtp_server: SmtpServer, tmp_path: Path) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, smtp_server, None)
    without_five_percent(recipe)
    other = tmp_path / "other"
    other.mkdir()
    from tests.fixtures_alerts import make_certificate

    stranger, _ = make_certificate(other)  # a CA that did not sign the server's certificate
    recipe.write_text(recipe.read_text(encoding="utf-8").replace(
        smtp_server.ca_file.as_posix(), stranger.as_posix()), encoding="utf-8")
    result = run_cli("run", str(recipe))
    assert result.exit_code == ExitCode.HELD
    assert "warning: alert not sent by email: Cannot verify the certificate of the SMTP " \
        "server" in result.output
    assert smtp_server.received == []


# aiosmtpd warns that AUTH is allowed without STARTTLS: this server speaks TLS from the start
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_and_a_wrong_password(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, smtp_tls_server: SmtpServer) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, smtp_tls_server, None, security="tls")
    without_five_percent(recipe)
    (recipe.parent / ".env").write_text("SMTP_PASSWORD=not-the-password\n", encoding="utf-8")
    refused = run_cli("run", str(recipe))
    assert refused.exit_code == ExitCode.HELD
    assert "refused the username 'alerts' and its password" in refused.output
    assert "not-the-password" not in refused.output
    (recipe.parent / ".env").write_text(f"SMTP_PASSWORD={SMTP_PASSWORD}\n", encoding="utf-8")
    check = run_cli("-r", str(recipe), "alerts", "check")
    assert check.exit_code == 1, check.output
    assert [m["Subject"] for m in smtp_tls_server.received] == [
        "[sagesync demo] ALERT: 4 records held: no Sage tax code for a rate"]


@pytest.fixture
def live_recipe(tmp_path: Path, make_magento_sim, http_receiver: HttpReceiver  # type: ignore[no-untyped-def]  # noqa: F811
                ) -> tuple[Path, Any]:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="good-T0ken-1234",
                           max_page_size=300)
    text = (ROOT / "recipes" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('source = "../samples/magento"',
                        'base_url = "${MAGENTO_URL}"\ntoken = "${MAGENTO_TOKEN}"')
    text = text.replace("../samples/", f"{(ROOT / 'samples').as_posix()}/")
    recipe = tmp_path / "live.toml"
    recipe.write_text(text, encoding="utf-8")
    alert_recipe(recipe, None, http_receiver)
    env = (tmp_path / ".env").read_text(encoding="utf-8")
    (tmp_path / ".env").write_text(env + f"MAGENTO_URL={sim.url}\nMAGENTO_TOKEN=bad-T0ken-99\n",
                                   encoding="utf-8")
    return recipe, sim


def test_an_authentication_failure_alerts_at_once_and_resolves(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, live_recipe: tuple[Path, Any],
        http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe, _sim = live_recipe
    state = tmp_path / "s"
    refused = run_cli("--state-dir", str(state), "run", str(recipe), "--until", "2027-01-01")
    assert refused.exit_code == ExitCode.AUTH
    assert len(http_receiver.posts) == 1
    alert = http_receiver.posts[0]["sagesync"]["alerts"][0]
    assert (alert["status"], alert["cause"]) == ("raised", "auth")
    assert alert["title"] == "Magento refused the credentials: the sync is halted (exit 77)"
    assert "`run` (run " in alert["detail"] and "401" in alert["detail"]
    again = run_cli("--state-dir", str(state), "export-orders", "-r", str(recipe))
    assert again.exit_code == ExitCode.AUTH and len(http_receiver.posts) == 1  # no storm
    env = (tmp_path / ".env").read_text(encoding="utf-8").replace("bad-T0ken-99",
                                                                   "good-T0ken-1234")
    (tmp_path / ".env").write_text(env, encoding="utf-8")
    fixed = run_cli("--state-dir", str(state), "run", str(recipe), "--until", "2027-01-01")
    assert fixed.exit_code == ExitCode.OK, fixed.output
    assert [(a["status"], a["cause"]) for a in http_receiver.posts[1]["sagesync"]["alerts"]] \
        == [("resolved", "auth")]
    assert_nothing_secret(None, http_receiver, "bad-T0ken-99", "good-T0ken-1234")


def test_a_quarantined_file_alerts_once_and_clears_when_taken_out(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path, http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, None, http_receiver)
    assert run_cli("run", str(recipe)).exit_code == 0
    bad = tmp_path / "sage-export.csv"
    bad.write_text("Nothing,Useful\n1,2\n", encoding="utf-8")
    first = run_cli("-r", str(recipe), "ack", str(bad))
    assert first.exit_code == ExitCode.BAD_INPUT
    second = run_cli("-r", str(recipe), "ack", str(bad))  # the same content again
    assert second.exit_code == ExitCode.BAD_INPUT
    causes = [a["cause"] for p in http_receiver.posts for a in p["sagesync"]["alerts"]]
    assert len(causes) == 1 and causes[0].startswith("quarantine:")
    detail = http_receiver.posts[0]["sagesync"]["alerts"][0]["detail"]
    assert "sage-export.csv" in detail and "Reference" in detail  # what is wrong, from the report
    for copy in (tmp_path / "demo-state" / "quarantine").rglob("sage-export*"):
        copy.unlink()
    check = run_cli("-r", str(recipe), "alerts", "check")
    assert check.exit_code == 0, check.output
    assert [(a["status"], a["cause"]) for a in http_receiver.posts[-1]["sagesync"]["alerts"]] \
        == [("resolved", causes[0])]


def raised(receiver: HttpReceiver) -> list[str]:
    return [a["cause"] for p in receiver.posts for a in p["sagesync"]["alerts"]
            if a["status"] == "raised"]


def test_silence_no_success_pending_age_unconfirmed_and_no_orders(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, None, http_receiver)
    text = recipe.read_text(encoding="utf-8")
    recipe.write_text(text.replace("[alerts]\n", '[alerts]\ntriggers = ["no_success", '
                                   '"pending_age", "unconfirmed", "no_orders"]\n'
                                   'unconfirmed_after_runs = 1\n'
                                   'trading_hours = "Mon-Fri 09:00-17:00"\n'
                                   "max_quiet_trading_hours = 3\n"), encoding="utf-8")
    without_five_percent(recipe)
    loaded = load_recipe(recipe)
    assert run_cli("run", str(recipe)).exit_code == ExitCode.HELD
    with Ledger(loaded.state_dir / "ledger.sqlite") as ledger:
        newest = ledger.db.execute("SELECT value FROM sightings WHERE what='order_created'"
                                   ).fetchone()[0]
    created = datetime.strptime(newest, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    orders = [o for page in sorted((ROOT / "samples" / "magento" / "orders").glob("*.json"))
              for o in json.loads(page.read_text(encoding="utf-8"))["items"]]
    assert newest == max(o["created_at"] for o in orders).replace(" ", "T") + "Z"
    quiet = loaded.alerts.trading_hours.trading_seconds(  # type: ignore[union-attr]
        created, datetime.now(UTC), loaded.zone) / 3600
    assert ("no_orders" in raised(http_receiver)) == (quiet > 3)
    assert "unconfirmed" not in raised(http_receiver)
    assert run_cli("run", str(recipe)).exit_code == ExitCode.HELD  # one run after sending
    # sent but not confirmed after one more run (Sage 50 UK has a confirmation export)
    assert raised(http_receiver).count("unconfirmed") == 1
    assert "no_success" not in raised(http_receiver)
    assert "pending_age" not in raised(http_receiver)
    later = datetime.now(UTC) + timedelta(hours=30)
    report = evaluate(loaded, now=later)
    assert report.warnings == []
    assert sorted(r.cause for r in report.opened if r.cause != "no_orders") == [
        "no_success", "pending_age"]
    titles = {a["cause"]: a["title"] for a in http_receiver.posts[-1]["sagesync"]["alerts"]}
    assert titles["no_success"] == "No successful run for over 24 h"
    assert titles["pending_age"] == "A record has waited over 24 h to reach Sage"
    # a successful run clears no_success at once; the held records keep pending_age open
    assert run_cli("run", str(recipe)).exit_code == ExitCode.HELD
    resolved = [a["cause"] for a in http_receiver.posts[-1]["sagesync"]["alerts"]
                if a["status"] == "resolved"]
    assert "no_success" in resolved and "pending_age" in resolved  # real time is not +30 h
    assert_nothing_secret(None, http_receiver)


def test_dry_runs_evaluate_nothing(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, None, http_receiver)
    without_five_percent(recipe)
    assert run_cli("run", str(recipe), "--dry-run").exit_code == ExitCode.HELD
    assert http_receiver.posts == []


@pytest.mark.parametrize(("setting", "message"), [
    ('smtp_host = "mail.example.com"\nsecurity = "none"\nfrom = "a@example.com"\n'
     'to = ["b@example.com"]', "is allowed only for a server on this machine"),
    ('webhook_url = "http://hooks.example.com/x"', "expected an https:// URL"),
    ('trading_hours = "Mon-Fri 9-17"', "alerts.trading_hours"),
    ('smtp_host = "127.0.0.1"\nfrom = "a@example.com"', "needs 'to'"),
    ('triggers = ["held", "lunch"]', "alerts.triggers"),
    ('password = "x"', "needs 'alerts.smtp_host'"),
])
def test_alert_settings_are_checked(run_cli, demo_copy: Path, setting: str,  # type: ignore[no-untyped-def]
                                    message: str) -> None:
    demo_copy.write_text(demo_copy.read_text(encoding="utf-8") + f"\n[alerts]\n{setting}\n",
                         encoding="utf-8")
    result = run_cli("-r", str(demo_copy), "alerts", "check")
    assert result.exit_code == ExitCode.USAGE
    assert message in result.output and "Traceback" not in result.output


def test_alerts_check_without_a_channel_is_a_usage_error(run_cli, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("-r", str(demo_copy), "alerts", "check")
    assert result.exit_code == ExitCode.USAGE
    assert "[alerts] names no channel" in result.output



def test_a_record_needing_a_person_alerts_and_a_retry_resolves_it_at_once(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, None, http_receiver,
                          '\n[ledger]\nmax_attempts = 1\n[ack]\nerror_column = "Error"\n')
    assert run_cli("run", str(recipe)).exit_code == ExitCode.OK
    # already sent, so nothing changes (exit 1); either way a person's own command is no news
    assert run_cli("-r", str(recipe), "hold", "invoice:2@1").exit_code == ExitCode.HELD
    assert http_receiver.posts == []
    export = demo_copy.parent / "sage-answers.csv"
    export.write_text("Type,Reference,Transaction Number,Error\r\n"
                      "SI,000000001,,Customer account on hold\r\n", encoding="utf-8")
    assert run_cli("-r", str(recipe), "ack", str(export)).exit_code == ExitCode.HELD
    assert raised(http_receiver) == ["needs_attention:rejected_by_sage"]
    alert = http_receiver.posts[0]["sagesync"]["alerts"][0]
    assert alert["title"] == "1 record needs a person: rejected by Sage"
    assert "invoice:1@1: Customer account on hold" in alert["detail"]
    assert f"sagesync -r {recipe.resolve()} retry invoice:1@1" in alert["detail"]
    retried = run_cli("-r", str(recipe), "retry", "invoice:1@1")
    assert retried.exit_code == 0
    assert "alert resolved: 1 record needs a person: rejected by Sage" in retried.output
    assert http_receiver.posts[-1]["sagesync"]["alerts"][0]["status"] == "resolved"


def test_a_document_changed_in_magento_after_sending_alerts_until_resolved(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe = alert_recipe(demo_copy, None, http_receiver)
    assert run_cli("run", str(recipe)).exit_code == ExitCode.OK
    page = demo_copy.parent.parent / "samples" / "magento" / "invoices" / "page-0001.json"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace('"grand_total": 26.4,', '"grand_total": 26.5,', 1),
                    encoding="utf-8")
    assert run_cli("run", str(recipe)).exit_code == ExitCode.OK
    assert raised(http_receiver) == ["amended"]
    alert = http_receiver.posts[0]["sagesync"]["alerts"][0]
    assert alert["title"] == "1 record changed or cancelled in Magento after reaching Sage"
    assert "invoice:1@1 (000000001): changed in Magento after it was sent" in alert["detail"]
    settled = run_cli("-r", str(recipe), "resolve", "invoice:1@1", "--note", "SC 1043")
    assert settled.exit_code == 0
    assert http_receiver.posts[-1]["sagesync"]["alerts"] == [
        {**alert, "status": "resolved",
         "cleared_at": http_receiver.posts[-1]["sagesync"]["alerts"][0]["cleared_at"]}]


def test_the_readme_documents_every_alerts_key() -> None:
    from sagesync.recipe import ALERT_KEYS, ALERT_TRIGGERS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("```toml\n[alerts]"):]
    block = block[: block.index("```", 8)]
    documented = set(re.findall(r"^#? ?(\w+) = ", block, re.MULTILINE))
    assert documented == set(ALERT_KEYS)
    for trigger in ALERT_TRIGGERS:
        assert f"| `{trigger}" in readme
