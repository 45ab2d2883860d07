"""Sage Intacct: AR invoices or Order Entry transactions, and customers (see README.md here).

The rules are shared/reference/sage-targets.md §7 (Intacct help [DOC] for the file rules, a
third-party copy of the AR invoice template for its columns [3P]); where nothing is documented
the value is the assumption README.md states, marked unconfirmed there. The files are CSV
imports whose templates are generated per company: the shipped `.toml` files carry the
documented or likeliest headers, and a recipe's `[sage] templates` folder replaces any of them
by name with the company's own. What is read back (stock, prices, the ack) is in `exports.py`.
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.intacct.exports import ACK, LAYOUTS

#: An Intacct ID as the company types it: case-sensitive, no spaces, no leading sign (§7:
#: "IDs are case-sensitive", "no leading/trailing spaces"); the characters beyond letters and
#: digits are assumed.
_ID = "[A-Za-z0-9][A-Za-z0-9_.-]{0,%d}"

CAPABILITIES = Capabilities(
    # One type: every posting is a sale (an AR invoice, or the OE transaction named in the
    # template's TRANSACTIONTYPE map). Each row is a line of its document, no record codes.
    document_record_types=("SI",),
    line_record_types=(),
    sale_type="SI",
    # Credit memos are held: the AR adjustment and OE Sales Return imports are unconfirmed
    # (§7) and the AR invoice import takes no credit (see README "Credit memos").
    credit_type="",
    credit_note_advice=(
        "enter the refund in Intacct by hand, as an AR adjustment (Accounts Receivable > "
        "Adjustments) against the invoice, or as the Order Entry return your company uses, "
        "then `sagesync resolve` the credit memo"),
    # A line may be negative (a discount, a gift card kept inside its invoice) when the
    # recipe opts in; the document's total stays positive. Unconfirmed.
    negative_amounts=True,
    sage_computes_tax=False,  # tax is a line of its own to the tax account, as Magento says
    max_amount=Decimal("99999999.99"),  # not documented; Magento's own largest amount
    code_lengths={"reference": 45, "extra_reference": 100, "account_ref": 21,
                  "nominal_code": 24, "tax_code": 24, "company": 20},
    code_patterns={"account_ref": _ID % 20, "nominal_code": _ID % 23, "tax_code": _ID % 23,
                   "company": "[A-Za-z0-9_-]{1,20}"},
    # chosen at upload (§7): the shipped templates write mm/dd/yyyy, the default short date
    date_format="%m/%d/%Y",
    max_lines_per_document=0,  # none documented
    # "keep files under about 5,000 lines" (sage-formats.md §7, KB "Prepare your file")
    max_lines_per_file=5000,
    reference_field="reference",
    encoding="utf-8",  # chosen or auto-detected at upload (§7); Intacct's advice is UTF-8
    delimiter=",",
    line_ending="\r\n",
    # GL account numbers of a typical Intacct chart; a recipe names its own. `tax_codes` maps
    # a Magento rate to the account its tax is booked on (one tax line per account).
    mapping_defaults={
        "default_sales_nominal": "4000", "carriage_nominal": "4050",
        "discount_nominal": "4900", "adjustment_nominal": "4000",
        "adjustment_tax_code": "2200", "payment_tax_code": "2200",
        "tax_codes": {"20": "2200", "5": "2200", "0": "2200"}},
)

PRODUCT = SageProduct(
    key="intacct",
    title="Sage Intacct",
    package=__name__,
    import_format=CAPABILITIES,
    # accounts first; then the one documents file of the recipe's post_from
    templates=("customers", "ar_invoices", "oe_transactions"),
    layouts=LAYOUTS,
    ack=ACK,
    demo_recipe="recipes/intacct.toml",
)
