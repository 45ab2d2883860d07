"""Sage 50 Canada (Simply Accounting): `.IMP` sales invoices and new customers (README.md here).

Every fact below is from shared/reference/sage-targets.md §2 (the SDK "Import File Layout" and
Sage's Canadian KB) and, where it does not disagree, sage-formats.md §2.4; where Sage documents
nothing, the value is the safe choice the README here states as unconfirmed. The .IMP has no
credit note, so a credit memo is held with the advice below. What is read back from Sage (the
ack export) is in `exports.py`.
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.sage50_ca.exports import ACK

CAPABILITIES = Capabilities(
    # the core's internal sale type; the .IMP has no type column: a <SalInvoice> block is one
    document_record_types=("SI",),
    line_record_types=(),  # detail lines follow their options line in the block, uncoded
    sale_type="SI",
    credit_type="",  # the KB's list of .IMP types has no sales return or credit
    credit_note_advice=(
        "enter the refund by hand as a sales return: in Sage 50's Sales Invoices window "
        "(Receivables), choose the customer, enter the returned items with a negative quantity "
        "(a negative amount for a refund that is not goods) and the credit memo number as the "
        "invoice number, post it, then `sagesync resolve` the credit memo"),
    # negative detail lines in a <SalInvoice> are untested (sage-targets.md §2): discounts
    # stay inside each line's amount, and a negative split holds its document
    negative_amounts=False,
    sage_computes_tax=False,  # each detail line carries its tax name, rate and amount
    max_amount=Decimal("99999999.99"),  # unconfirmed: Sage 50 Canada documents no limit
    # customers are keyed by name (<=52); Invoice No <=20; tax names <=20
    code_lengths={"account_ref": 52, "reference": 20, "tax_code": 20,
                  "carriage_tax_code": 20},
    date_format="%-m-%-d-%Y",  # m-d-yyyy, not zero-padded (the SDK sample: 3-15-2001)
    max_lines_per_document=0,  # none documented
    max_lines_per_file=0,  # none documented
    reference_field="reference",
    encoding="cp1252",  # unconfirmed (sage-targets.md §2: safest cp1252)
    delimiter=",",
    line_ending="\r\n",  # unconfirmed: public writers use LF; safest CRLF
    foreign_currency=False,  # home currency only (KB ca-kb solutionid=223924750041370)
    # Canadian tax names in place of Sage 50 UK's T-codes: a Magento rate -> the Sage tax
    # (authority) it is charged under; a combined rate (GST + PST as 12 %) has no default and
    # holds its lines until mapped (see the README)
    mapping_defaults={
        "tax_codes": {"5": "GST", "13": "HST", "14": "HST", "15": "HST", "0": "GST"},
        "adjustment_tax_code": "GST", "payment_tax_code": "GST"},
)

PRODUCT = SageProduct(
    key="sage50_ca",
    title="Sage 50 Canada",
    package=__name__,
    import_format=CAPABILITIES,
    templates=("customers", "sales_invoices"),
    ack=ACK,
    demo_recipe="recipes/sage50_ca.toml",
)
