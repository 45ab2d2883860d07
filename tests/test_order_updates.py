"""Sage's answers told to Magento as order comments (issue 15 §1), against the simulator:
the Sage numbers on the order, a recipe status, Sage's reason for a refusal, and each answer
exactly once across reruns and crashes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sagesync.errors import ExitCode
from tests.conftest import ROOT, SAGESYNC, subprocess_env
from tests.magento_sim import MagentoSimulator
from tests.test_samples_schema import _schema_errors, _schema_path

ANSWERS = ("Type,Reference,Transaction Number,Status,Error\r\n"
           "SI,000000002,101,OK,\r\n"
           "SC,000000001,,Rejected,Customer account on hold\r\n")


def shop(tmp_path: Path, sim: MagentoSimulator, **updates: object) -> Path:
    text = (ROOT / "recipes" / "demo.toml").read_text(encoding="utf-8").replace(
        'source = "../samples/magento"', f'base_url = "{sim.url}"\ntoken = "t"')
    text = text.replace("../samples/", f"{(ROOT / 'samples').as_posix()}/")
    text = text.replace('state_dir = "../demo-state"', 'state_dir = "state"')
    text = text.replace('path = "../demo-state/outbox"', 'path = "outbox"')
    text += '\n[ack]\nstatus_column = "Status"\nerror_column = "Error"\n'
    text += "\n[magento_updates]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in updates.items())
    recipe = tmp_path / "shop.toml"
    recipe.write_text(text, encoding="utf-8")
    return recipe


def sagesync(recipe: Path, *args: str, crash_at: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    if crash_at:
        env["SAGESYNC_CRASH_AT"] = crash_at
    return subprocess.run([*SAGESYNC, "-r", str(recipe), *args], capture_output=True,
                          text=True, env=env, cwd=recipe.parent, stdin=subprocess.DEVNULL,
                          timeout=300)


def delivered_and_answered(tmp_path: Path, sim: MagentoSimulator, answers_text: str = ANSWERS,
                           **updates: object) -> Path:
    recipe = shop(tmp_path, sim, **updates)
    done = sagesync(recipe, "run", "--until", "2027-01-01")
    assert done.returncode == 0, done.stderr
    answers = tmp_path / "answers.csv"
    answers.write_text(answers_text, encoding="utf-8")
    acked = sagesync(recipe, "ack", str(answers))
    assert acked.returncode == 0, acked.stderr
    return recipe


def comments(sim: MagentoSimulator, order_id: int) -> list[dict[str, object]]:
    """sagesync's comments on an order (the samples carry Magento's own too)."""
    (order,) = [o for o in sim.rows("orders") if o["entity_id"] == order_id]
    return [h for h in order.get("status_histories") or [] if "[sagesync #" in str(h["comment"])]


def ours(sim: MagentoSimulator) -> dict[int, list[str]]:
    found = {}
    for order in sim.rows("orders"):
        texts = [str(h["comment"]) for h in order.get("status_histories") or []
                 if "[sagesync #" in str(h["comment"])]
        if texts:
            found[order["entity_id"]] = texts
    return found


def test_confirmations_and_refusals_reach_the_order_once(tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         make_magento_sim) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = delivered_and_answered(tmp_path, sim, confirmed_status="sent_to_sage")
    preview = sagesync(recipe, "update-orders", "--dry-run")
    assert preview.returncode == 0 and "would comment: order 000000002" in preview.stderr
    assert ours(sim) == {}
    told = sagesync(recipe, "update-orders", "--json")
    assert told.returncode == 0, told.stderr
    assert len(json.loads(told.stdout)["posted"]) == 2
    # the invoice and the credit memo are both order 000000002's
    confirmed, refused = sorted(comments(sim, 2), key=lambda c: "refused" in str(c["comment"]))
    assert str(confirmed["comment"]).startswith(
        "Sage has invoice 000000002 as SI 000000002 (Sage 101) [sagesync #")
    assert confirmed["status"] == "sent_to_sage" and confirmed["is_customer_notified"] == 0
    assert list(ours(sim)) == [2]
    assert "status" not in refused  # no rejected_status in this recipe
    assert str(refused["comment"]).startswith(
        "Sage refused credit memo 000000001 (SC 000000001, attempt 1): Customer account on hold;"
        " sagesync sends it again next run")
    again = sagesync(recipe, "update-orders")
    assert again.returncode == 0 and sum(len(v) for v in ours(sim).values()) == 2
    traced = sagesync(recipe, "trace", "000000002")
    assert "told_magento" in traced.stdout
    if _schema_path() is not None:  # the bodies sent are what Magento's schema takes
        posts = [json.loads(r.body) for r in sim.requests if r.method == "POST"
                 and r.path.endswith("/comments")]
        assert len(posts) == 2
        for body in posts:
            assert _schema_errors("sales-data-order-status-history-interface",
                                  body["statusHistory"]) == []


@pytest.mark.parametrize("crash_at", ["comment-sending", "comment-posted"])
def test_a_crash_around_the_post_never_doubles_a_comment(tmp_path: Path, crash_at: str,  # type: ignore[no-untyped-def]
                                                         make_magento_sim) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = delivered_and_answered(tmp_path, sim)
    crashed = sagesync(recipe, "update-orders", crash_at=crash_at)
    assert crashed.returncode == 137
    assert sum(len(v) for v in ours(sim).values()) == (1 if crash_at == "comment-posted" else 0)
    rerun = sagesync(recipe, "update-orders")
    assert rerun.returncode == 0, rerun.stderr
    markers = [c.rsplit("[sagesync #", 1)[1] for cs in ours(sim).values() for c in cs]
    assert len(markers) == 2 and len(set(markers)) == 2


def test_a_run_tells_magento_when_enabled_and_an_unknown_order_is_reported(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    answers = ("Type,Reference,Transaction Number,Status,Error\r\n"
               "SI,000000003,103,OK,\r\nSI,000000005,105,OK,\r\n")
    recipe = delivered_and_answered(tmp_path, sim, answers, enabled=True)
    order_of = {i["increment_id"]: i["order_id"] for i in sim.rows("invoices")}
    sim.delete("orders", order_of["000000003"])  # gone from Magento since
    done = sagesync(recipe, "run", "--until", "2027-01-01")
    assert done.returncode == ExitCode.HELD
    assert "Magento refused the comment: order 000000003" in done.stderr
    assert "not in Magento" in done.stderr
    assert list(ours(sim)) == [order_of["000000005"]]
    again = sagesync(recipe, "run", "--until", "2027-01-01")  # refused once: not retried
    assert again.returncode == 0, again.stderr
