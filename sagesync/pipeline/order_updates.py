"""Tell Magento what Sage said: an order comment per answer `ack` applied (issue 15 §1).

A confirmation adds "Sage has invoice 000000002 as SI 000000002 (Sage 101, invoice 5001)"
and may move the order to the recipe's status; a rejection adds Sage's reason and never
notifies the customer unless the recipe asks. Finance sees the Sage numbers on the order.

Exactly once, though Magento keeps every comment it is sent: each comment ends with a marker
(`[sagesync #<event id>]`), and the ledger records `sending` before the POST and `posted`
after. An answer found `sending` (a crash between the two) is looked for on the order first
and posted only if its marker is not there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sagesync.errors import MagentoNotFoundError, UsageError
from sagesync.ledger import Ledger, OrderAnswer
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import Recipe

KIND = {"invoice": "invoice", "creditmemo": "credit memo", "order": "order"}


class Commenter(Protocol):
    def comments(self, order_id: int) -> list[str]: ...

    def post(self, order_id: int, comment: str, *, status: str | None = None,
             notify: bool = False, visible: bool = False) -> str | None: ...


@dataclass
class UpdateResult:
    posted: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)  # posted by an interrupted run
    failed: list[str] = field(default_factory=list)  # Magento refused: a person looks
    previews: list[str] = field(default_factory=list)  # a dry run's comments


def marker(answer: OrderAnswer) -> str:
    return f"[sagesync #{answer.event_id}]"


def comment_text(answer: OrderAnswer) -> str:
    """What the order's history says, with the marker that makes it once only."""
    kind = KIND.get(answer.key.entity_type, answer.key.entity_type)
    sage_type, _, reference = answer.sage_reference.partition(":")
    written = f"{sage_type} {reference}" if reference else "its Sage document"
    if answer.event == "receivable":
        said = f"Sage: {kind} {answer.increment_id} ({written}) is {answer.detail}"
    elif answer.event == "confirmed":
        said = f"Sage has {kind} {answer.increment_id} as {written} ({answer.detail})"
    else:
        attempt, _, error = answer.detail.partition(": ")
        then = ("sagesync sends it again next run" if answer.event == "rejected"
                else "it is not sent again until a person acts (sagesync status)")
        said = (f"Sage refused {kind} {answer.increment_id} ({written}, {attempt}): {error}; "
                f"{then}")
    return f"{said} {marker(answer)}"


def update_orders(recipe: Recipe, ledger: Ledger, *, dry_run: bool = False,
                  client: Commenter | None = None, receivables_only: bool = False
                  ) -> UpdateResult:
    """Tell Magento every answer not yet told (a dry run only shows the comments);
    `receivables_only`: just what a receivables push recorded."""
    result = UpdateResult()
    answers = ledger.answers_to_tell(receivables_only=receivables_only)
    if dry_run:
        result.previews = [f"order {a.order_increment_id}: {comment_text(a)}" for a in answers]
        return result
    if answers and client is None:
        client = default_commenter(recipe)
    while answers:
        assert client is not None
        for answer in answers:
            _tell(recipe, ledger, client, answer, result)
        answers = ledger.answers_to_tell(receivables_only=receivables_only)
    return result


def _tell(recipe: Recipe, ledger: Ledger, client: Commenter, answer: OrderAnswer,
          result: UpdateResult) -> None:
    """Post one answer's comment, unless an interrupted run already did."""
    settings = recipe.magento_updates
    text = comment_text(answer)
    label = f"order {answer.order_increment_id} ({answer.key})"
    confirmed = answer.event == "confirmed"
    receivable = answer.event == "receivable"
    if receivable:  # a paid invoice may move its order on; nothing else does
        paid = answer.key.entity_type != "creditmemo" and answer.detail.startswith("paid")
        status, notify = (settings.paid_status if paid else None), settings.notify_payments
    elif confirmed:
        status, notify = settings.confirmed_status, settings.notify_customer
    else:
        status, notify = settings.rejected_status, settings.notify_rejections
    try:
        if answer.interrupted and marker(answer) in " ".join(client.comments(
                answer.order_id)):
            ledger.told(answer, "posted", "found on the order after an interrupted run")
            result.found.append(label)
            return
        ledger.telling(answer)
        crash_point("comment-sending")
        problem = client.post(answer.order_id, text, status=status, notify=notify,
                              visible=receivable and settings.payments_visible)
    except MagentoNotFoundError as error:
        if "exist" not in str(error):  # the URL is wrong, not the order gone
            raise
        problem = "the order is not in Magento (404)"
    crash_point("comment-posted")
    ledger.told(answer, "failed" if problem else "posted", problem or "")
    (result.failed if problem else result.posted).append(
        f"{label}: {problem}" if problem else label)


def default_commenter(recipe: Recipe) -> Any:
    from sagesync.magento.comments import OrderComments
    from sagesync.magento.connect import magento_auth
    from sagesync.magento.http import RetryPolicy

    if not recipe.magento.base_url:
        raise UsageError("update-orders needs a live store: set [magento] base_url and token "
                         "(or use --dry-run to see the comments).")
    return OrderComments(recipe.magento.base_url, magento_auth(recipe, recipe.magento.base_url),
                         timeout=recipe.magento.timeout_seconds,
                         retry=RetryPolicy(attempts=recipe.magento.retry_attempts,
                                           max_retry_after=recipe.magento.max_retry_after_seconds),
                         auth_kind=recipe.magento.auth)

