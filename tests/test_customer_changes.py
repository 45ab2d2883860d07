"""What Sage's values do to a Magento customer: only the fields Sage owns change, a second
application changes nothing (so a rerun writes nothing), and the result is still a customer
Magento's schema takes."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.catalog.customers import Wanted, apply
from tests.magento_sim_customers import sample_customers
from tests.test_samples_schema import _schema_errors, _schema_path

SAGE_OWNED = ("group_id", "custom_attributes", "addresses", "default_billing",
              "default_shipping")
WORDS = st.text(alphabet="abcdefghij ABC0123456789-", min_size=1, max_size=12).map(str.strip) \
    .filter(bool)
ADDRESSES = st.none() | st.fixed_dictionaries({}, optional={
    "street1": WORDS, "street2": WORDS, "town": WORDS, "county": WORDS, "postcode": WORDS,
    "country": st.sampled_from(["GB", "fr", "US"]), "telephone": WORDS}).filter(bool)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sample_customers()), st.none() | st.integers(0, 3),
       st.none() | st.booleans(), ADDRESSES)
def test_only_what_sage_owns_changes_and_twice_is_once(customer: dict[str, Any],
                                                       group: int | None, hold: bool | None,
                                                       address: dict[str, str] | None) -> None:
    wanted = Wanted("ACC1", group, hold, address)
    before = copy.deepcopy(customer)
    new, changes = apply(customer, wanted, "sage_on_hold")
    assert customer == before  # the customer read is never changed in place
    assert {k: v for k, v in new.items() if k not in SAGE_OWNED} == \
        {k: v for k, v in before.items() if k not in SAGE_OWNED}
    again, more = apply(new, wanted, "sage_on_hold")
    assert more == [] and again == new
    if group is not None:
        assert new["group_id"] == group
    if not changes:
        assert new == before
    if _schema_path() is not None:
        assert _schema_errors("customer-data-customer-interface", new) == []


def test_the_hold_attribute_keeps_the_customers_other_attributes() -> None:
    customer = {**sample_customers()[0], "custom_attributes": [
        {"attribute_code": "loyalty_tier", "value": "gold"},
        {"attribute_code": "sage_on_hold", "value": "0"}]}
    new, changes = apply(customer, Wanted("A", None, True, None), "sage_on_hold")
    assert [(c.what, c.old, c.new) for c in changes] == [("sage_on_hold", "0", "1")]
    assert sorted((a["attribute_code"], a["value"]) for a in new["custom_attributes"]) == \
        [("loyalty_tier", "gold"), ("sage_on_hold", "1")]
