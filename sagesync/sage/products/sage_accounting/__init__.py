"""Sage Business Cloud Accounting: sales quick entries and contacts (see README.md here).

Every fact is from shared/reference/sage-targets.md §8 (Sage KB gb-kb 222001000100915 and
240703094553770, help.accounting.sage.com's quick-entry and contacts import pages, the CA/US
quick-entry page ca-kb 240304191549370); what Sage documents nothing about is the default the
README names as unconfirmed. The UK/IE edition is the product's own; the US and Canadian
editions (`[sage] region = "us"` or `"ca"`) date MM-DD-YYYY, head their tax columns Tax Rate
and Tax, and name the site's own sales tax rates. Sage Accounting has no export sagesync reads
back (no stock or price layout, no ack).
"""

from dataclasses import replace
from decimal import Decimal

from sagesync.sage.products.base import Capabilities, Region, SageProduct

#: The VAT rates of the UK edition, by the name the quick-entry import takes (not T-codes).
VAT_RATES = ("Standard", "Zero Rated", "Lower Rate", "Exempt", "No VAT")

CAPABILITIES = Capabilities(
    # column A: what Sage reads; sagesync's own SI/SC become these through the column's map
    document_record_types=("Invoice", "Cr Note"),
    line_record_types=(),  # quick entries carry no items: each row is a split of its document
    sale_type="SI",
    credit_type="SC",
    negative_amounts=False,  # Net, VAT, Total are unsigned: the Type carries the direction
    sage_computes_tax=False,  # VAT is given per row, with Total = Net + VAT
    max_amount=Decimal("99999999.99"),  # 8 digits + 2 places
    code_lengths={"transaction_type": 7, "account_ref": 10, "reference": 25,
                  "nominal_code": 8, "tax_code": 10},
    code_patterns={"transaction_type": "Invoice|Cr Note", "account_ref": "[A-Za-z0-9]{1,10}",
                   "nominal_code": "[0-9]{1,8}", "tax_code": "|".join(VAT_RATES)},
    date_format="%d-%m-%Y",
    max_lines_per_document=0,  # none documented
    max_lines_per_file=0,  # none documented: the limit is the file's size
    max_bytes_per_file=500_000,  # "0.5 MB": the smaller reading (not 524,288)
    reference_field="reference",
    encoding="utf-8",  # unconfirmed: UTF-8 without a byte-order mark is the safest reading
    delimiter=",",
    line_ending="\r\n",  # unconfirmed: as Excel saves the downloaded template
    mapping_defaults={
        "tax_codes": {"20": "Standard", "5": "Lower Rate", "0": "Zero Rated"},
        # a credit memo's adjustment and a gift card, store credit or reward payment are
        # outside the scope of VAT (Sage 50's T9)
        "adjustment_tax_code": "No VAT",
        "payment_tax_code": "No VAT",
    },
)

#: The US and Canadian quick-entry import (ca-kb 240304191549370): MM-DD-YYYY, Tax Rate / Tax,
#: rates named as in the site's Settings, Ledger Account alphanumeric.
NORTH_AMERICA = replace(
    CAPABILITIES,
    code_lengths={**CAPABILITIES.code_lengths, "tax_code": 50},
    code_patterns={"transaction_type": "Invoice|Cr Note", "account_ref": "[A-Za-z0-9]{1,10}",
                   "nominal_code": "[A-Za-z0-9]{1,8}"},
    date_format="%m-%d-%Y",
    # no default rate names: each site names its own, so a document waits until they are
    # mapped; the two codes below must still be valid names (unconfirmed defaults)
    mapping_defaults={"tax_codes": {}, "adjustment_tax_code": "Exempt",
                      "payment_tax_code": "Exempt"},
)

_NA_TEMPLATES = {"quick_entries": "quick_entries_na"}

PRODUCT = SageProduct(
    key="sage_accounting",
    title="Sage Business Cloud Accounting",
    package=__name__,
    import_format=CAPABILITIES,
    templates=("contacts", "quick_entries"),  # contacts first: a quick entry needs its customer
    regions={"us": Region("US", NORTH_AMERICA, _NA_TEMPLATES),
             "ca": Region("Canada", NORTH_AMERICA, _NA_TEMPLATES)},
    demo_recipe="recipes/sage_accounting.toml",
)
