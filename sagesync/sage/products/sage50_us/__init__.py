"""Sage 50 US (Peachtree): Sales Journal and Customer List imports, stock and price exports.

Every fact below is from shared/reference/sage-targets.md §1 (a real Sage 50 US export and
Sage's import/export help) and sage-formats.md §2; where Sage documents nothing, the value is
the safe default the README here states as unconfirmed. What is read back from Sage (stock,
prices, the ack export) is in `exports.py`.
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.sage50_us.exports import ACK, LAYOUTS

#: The field rules of the codes sagesync writes (lengths from Sage's help; the character sets
#: are sagesync's, unconfirmed: account and item IDs take any text, as Sage's own export shows).
_ACCOUNT = "[A-Za-z0-9._-]{1,15}"
_AGENCY = "[A-Za-z0-9._-]{1,8}"

CAPABILITIES = Capabilities(
    # the core's types; the file says Credit Memo FALSE / TRUE (a column map)
    document_record_types=("SI", "SC"),
    line_record_types=(),  # one row per distribution, the header repeated on each
    sale_type="SI",
    credit_type="SC",  # Credit Memo = TRUE in the same Sales Journal file
    negative_amounts=True,  # a discount is a line with a negative Unit Price (real export)
    sage_computes_tax=False,  # sales tax is given as one distribution per agency
    max_amount=Decimal("99999999.99"),  # unconfirmed: Sage documents no limit
    code_lengths={"account_ref": 20, "reference": 20, "nominal_code": 15, "tax_code": 8,
                  "item_code": 20},
    code_patterns={"nominal_code": _ACCOUNT, "tax_code": _AGENCY},
    date_format="%-m/%-d/%y",  # M/D/YY, no zero padding (6/1/26), never a 4-digit year
    max_lines_per_document=154,  # distributions of an A/R journal transaction (2021 tips)
    max_lines_per_file=0,  # none documented
    reference_field="reference",  # Invoice/CM #
    encoding="cp1252",  # unconfirmed; no BOM (it would corrupt the first heading)
    delimiter=",",
    line_ending="\r\n",  # unconfirmed whether LF is read; CRLF as Sage writes
    mapping_defaults={
        # a sales tax agency per Magento rate; a site maps its own rates to its agencies
        "tax_codes": {"0": "EXEMPT"}, "adjustment_tax_code": "EXEMPT",
        "payment_tax_code": "EXEMPT",
        # G/L accounts as in the real export: 11000 receivables, 40000 sales, 40800 delivery,
        # 49000 discounts; 23100 sales tax payable (Sage's sample company, unconfirmed)
        "default_sales_nominal": "40000", "carriage_nominal": "40800",
        "discount_nominal": "49000", "adjustment_nominal": "40000",
        "receivables_nominal": "11000", "tax_nominal": "23100",
    },
    contra_documents=False,  # a fee or a gift card can only be a negative line
)

PRODUCT = SageProduct(
    key="sage50_us",
    title="Sage 50 US (Peachtree)",
    package=__name__,
    import_format=CAPABILITIES,
    templates=("customers", "sales_journal"),  # customers first: Sage needs the ID
    layouts=LAYOUTS,
    ack=ACK,
    demo_recipe="recipes/sage50_us.toml",
)
