"""Sage 300 (Accpac): O/E orders, O/E credit notes and A/R customers are posted; I/C stock and
prices are read.

Every fact below is from shared/reference/sage-targets.md §5 (three public single-CSV writers
and the Application Object Model's field names), with sage-formats.md §5 where it does not
disagree; README.md here names the source of each and says which are unconfirmed, with the
value chosen. What is read back from Sage (stock, prices, the ack export) is in `exports.py`.
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.sage300.exports import ACK, LAYOUTS

CAPABILITIES = Capabilities(
    # RECTYPE 1: the O/E Orders header view OE0520; 2: its details, OE0500
    document_record_types=("1",),
    line_record_types=("2",),
    sale_type="SI",  # an invoice, or an order with post_from = "orders": an O/E order
    # a credit memo: an O/E credit note (OECRDH + OECRDD), in a file of its own
    # (credit_notes.toml). No public import file was found (sage-targets.md §5, INF): the
    # orders file's single-CSV pattern, CRDUNIQ as the key, every unconfirmed field marked
    credit_type="SC",
    negative_amounts=False,  # a negative miscellaneous charge is unconfirmed
    # ... but for a credit memo's fee, the one way to keep it on its credit note: a debit
    # note of its own would not be applied to the note (unconfirmed that Sage takes it)
    negative_purposes=("adjustment_fee",),
    sage_computes_tax=True,  # from the customer's tax group and each line's tax class
    max_amount=Decimal("9999999999999.99"),  # no limit found: 13 digits assumed
    code_lengths={"account_ref": 12, "reference": 22, "transaction_type": 1,
                  "item_code": 24, "warehouse": 6, "tax_code": 2, "customer_group": 6},
    code_patterns={"account_ref": "[A-Z0-9]{1,12}", "transaction_type": "1",
                   "tax_code": "[1-9]|10"},
    date_format="%Y%m%d",
    max_lines_per_document=0,  # none documented
    max_lines_per_file=0,  # none documented
    reference_field="reference",  # PONUMBER
    encoding="cp1252",  # unconfirmed: the Windows code page of a Western install
    delimiter=",",
    line_ending="\r\n",
    mapping_defaults={
        # item tax classes of tax authority 1 (1..10, the site's own): placeholders for
        # standard, zero and reduced rates; a recipe maps its own
        "tax_codes": {"20": "1", "5": "3", "0": "2"},
        "adjustment_tax_code": "2",
        "payment_tax_code": "2",
        "carriage_nominal": "FRT",  # the O/E miscellaneous charge code of shipping
        # the miscellaneous charge code of a credit memo's adjustment refund and fee
        "adjustment_nominal": "ADJ",
        "customer_group": "WEB",  # the A/R customer group of new web accounts
    },
)

PRODUCT = SageProduct(
    key="sage300",
    title="Sage 300 (Accpac)",
    package=__name__,
    import_format=CAPABILITIES,
    templates=("customers", "orders", "credit_notes"),
    layouts=LAYOUTS,
    ack=ACK,
    demo_recipe="recipes/sage300.toml",
)
