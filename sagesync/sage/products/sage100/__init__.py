"""Sage 100: S/O sales orders or A/R invoices and credit memos, and A/R customers, through
Visual Integrator (VI) import jobs; I/M stock and prices are read back.

VI has no fixed file: a site's import job maps columns to table fields. The shipped templates
are the default layout sagesync writes (H header and L line records, each with a heading row
of Sage's field names) and README.md here gives the VI job that reads them, field by field, so
a site's own job is matched by editing a copy of the template. Facts are from
shared/reference/sage-targets.md §3 (DOC for the mechanism, INF for the layout) with
sage-formats.md §3; README.md names the source of each and the default chosen where a fact is
unconfirmed. What is read back (stock, prices, the ack export) is in `exports.py`.
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.sage100.exports import ACK, LAYOUTS

CAPABILITIES = Capabilities(
    # the VI job's record types (sage-formats.md §3): H a header, L a line of it
    document_record_types=("H",),
    line_record_types=("L",),
    # the core's own types, written as InvoiceType IN / CM (A/R invoice entry) by the
    # templates; a sales order is a sale (SO OrderType S)
    sale_type="SI",
    credit_type="SC",
    # S/O Sales Order Entry takes no credit memo (sage-targets.md §3 names InvoiceType CM in
    # invoice entry only): posting from orders holds each one with this advice
    credit_post_from=("invoices",),
    credit_note_advice=(
        "not beside sales orders, as S/O Sales Order Entry takes none: enter it in A/R "
        "Invoice Data Entry as invoice type CM with the Magento credit memo number as its "
        "Customer PO No. (`sagesync trace` names the Sage order and invoice of its order), "
        "then `sagesync resolve` it; or post from invoices, where credit memos import"),
    # §3: "positive quantities and amounts, with the type carrying the direction" for a credit
    # memo; what a document takes off itself (a credit memo's fee, a gift card, a discount on
    # its own line) can only be a negative miscellaneous line of it (unconfirmed)
    negative_amounts=True,
    # the file carries Magento's tax (SalesTaxAmt) and freight (FreightAmt) on the header:
    # the document totals Magento's grand total (§3, the total identity [INF])
    sage_computes_tax=False,
    max_amount=Decimal("999999999.99"),  # ExtensionAmt, FreightAmt, SalesTaxAmt: 11,2
    code_lengths={"account_ref": 20, "reference": 15, "ar_division": 2, "item_code": 30,
                  "warehouse": 3, "tax_code": 2, "nominal_code": 30},
    code_patterns={"account_ref": "[A-Z0-9]{1,20}", "ar_division": "[0-9]{2}",
                   "item_code": "[!-~][ -~]{0,29}", "warehouse": "[A-Z0-9]{1,3}",
                   "tax_code": "[A-Z0-9]{1,2}", "nominal_code": "[!-~][ -~]{0,29}"},
    date_format="%Y%m%d",  # §3: the storage format, so the job converts nothing
    max_lines_per_document=0,  # none documented
    max_lines_per_file=0,  # none documented
    reference_field="reference",  # CustomerPONo: the Magento increment id (≤ 15)
    encoding="cp1252",  # unconfirmed: the Windows code page of a US install
    delimiter=",",
    line_ending="\r\n",
    # the rows are the lines of one document under its header: nothing can be posted as a
    # document of its own, so a recipe sets [sage] negative_amounts = true
    contra_documents=False,
    # A/R keeps one currency (no currency field in the documents' tables, §3): a foreign
    # order is posted in the base currency, [sage] currency = "order" is refused
    foreign_currency=False,
    # VI imports into the company it runs in; the files name none: one recipe per company
    one_company=True,
    mapping_defaults={
        # Sage 100's shipped tax classes: TX taxable, NT non-taxable (a site maps its own)
        "tax_codes": {"20": "TX", "5": "TX", "0": "NT"},
        "adjustment_tax_code": "NT",
        "payment_tax_code": "NT",
        # miscellaneous item codes (ItemType 5) of a credit memo's adjustment and of mapped
        # extra amounts; goods lines name their item, shipping is the header's FreightAmt
        "adjustment_nominal": "/ADJUST",
        "carriage_nominal": "/FREIGHT",
        "default_sales_nominal": "/SALES",
        "discount_nominal": "/DISCOUNT",
        "default_warehouse": "000",
    },
    template_fields={"ar_division": "01"},  # ARDivisionNo: 2 digits, zero-filled (§3)
)

PRODUCT = SageProduct(
    key="sage100",
    title="Sage 100",
    package=__name__,
    import_format=CAPABILITIES,
    # accounts first; then the one documents file of the recipe's post_from
    templates=("customers", "ar_invoices", "sales_orders"),
    layouts=LAYOUTS,
    ack=ACK,
    demo_recipe="recipes/sage100.toml",
)
