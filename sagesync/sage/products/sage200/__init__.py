"""Sage 200 (UK): customer transactions and customer accounts imports (see README.md here).

Every fact below is from shared/reference/sage-targets.md §4 (Sage 200 help "Import file
formats" and "Import customer transactions" pages, five public generators), where it does not
say otherwise sage-formats.md §4; what Sage documents nowhere is the default the README marks
unconfirmed. sagesync's own document types stay SI/SC: the transactions template writes them as
Sage 200's `SYSTraderTranType` 4 and 5. The stock and price exports read back are in
`exports.py`, with the export of posted customer transactions `ack` reads (its layout is
unconfirmed: Sage 200 documents no such export).
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.sage200.exports import ACK, LAYOUTS

CAPABILITIES = Capabilities(
    # sagesync's sale and credit note, written 4 and 5 (SYSTraderTranType) by the template
    document_record_types=("SI", "SC"),
    line_record_types=(),  # one row per document: its splits are repeated column groups
    sale_type="SI",
    credit_type="SC",
    # values positive, the type carrying the direction (the generators' convention; that Sage
    # refuses negatives is unconfirmed): a credit memo's fee is an invoice of its own
    negative_amounts=False,
    sage_computes_tax=False,  # TaxValue and TaxAnalysisTaxOnGoodsValue/n are given
    max_amount=Decimal("99999999.99"),  # unconfirmed: Sage 50's limit, none documented
    code_lengths={"transaction_type": 1, "account_ref": 8, "reference": 20,
                  "extra_reference": 20, "nominal_code": 8, "tax_code": 2},
    code_patterns={"transaction_type": "[45]", "account_ref": "[A-Z0-9]{1,8}",
                   "nominal_code": "[A-Za-z0-9]{1,8}", "tax_code": "[0-9]{1,2}"},
    date_format="%d/%m/%Y",
    max_lines_per_document=0,  # a document is one row (two with a fee): see the groups' times
    max_lines_per_file=0,  # none documented
    reference_field="reference",
    encoding="utf-8",  # unconfirmed: "UTF-8 without BOM, or cp1252" (§4); a recipe may choose
    delimiter=",",
    line_ending="\r\n",
    # tax codes are numbers 0-99 (§4): 1 standard, 2 zero rated (one generator), 5 lower and 9
    # outside the scope of VAT (Sage 50's numbering; unconfirmed): map a site's own in a recipe
    mapping_defaults={"tax_codes": {"20": "1", "5": "5", "0": "2"},
                      "adjustment_tax_code": "9", "payment_tax_code": "9"},
    post_from=("invoices",),  # no sales-order import (§4)
    one_company=True,  # a file is imported into the company Sage 200 is logged into
)

PRODUCT = SageProduct(
    key="sage200",
    title="Sage 200 (UK)",
    package=__name__,
    import_format=CAPABILITIES,
    templates=("customers", "transactions"),
    layouts=LAYOUTS,
    ack=ACK,
    demo_recipe="recipes/sage200.toml",
)
