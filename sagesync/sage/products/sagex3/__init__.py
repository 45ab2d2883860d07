"""Sage X3: sales orders (SOH) and customers (BPC) written, stock and prices read (README.md).

Every fact below is from shared/reference/sage-targets.md §6 (developer.sage.com's SOH and BPC
template pages, X3 online help AOE_BPC), which supersedes sage-formats.md §6; where X3
documents nothing the value is the assumption README.md states ("unconfirmed"). What is read
back from X3 (stock, prices, the ack export) is in `exports.py`.
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.sagex3.exports import ACK, LAYOUTS

CAPABILITIES = Capabilities(
    # §6: an `E` order header followed by its `L` line records
    document_record_types=("E",),
    line_record_types=("L",),
    sale_type="SI",  # the core's own type of a sale: an order here (SOHTYP is the recipe's)
    # no SIH (invoice or credit note) template was found (§6): credit memos are held
    credit_type="",
    credit_note_advice=(
        "X3's SOH template imports sales orders only, and no standard template for invoices "
        "and credit notes (SIH) was found: enter it in X3 as a credit note (or build an import "
        "from your own SIH template), then `sagesync resolve` it"),
    negative_amounts=False,  # QTY > 0 (§6); a price below zero is not an order line
    sage_computes_tax=True,  # §6: X3 computes prices and taxes on import
    # unconfirmed: GROPRI is "10.4" (§6), read as ten digits, four of them decimals; the
    # order's totals have no documented limit
    max_amount=Decimal("9999999999.99"),
    code_lengths={"order_type": 5, "account_ref": 15, "reference": 20, "currency_code": 3,
                  "customer_category": 5, "address_code": 5, "country_code": 3},
    code_patterns={"account_ref": "[A-Z0-9]{1,15}", "currency_code": "[A-Z]{3}",
                   "country_code": "[A-Z]{2,3}"},
    date_format="%Y%m%d",  # §6 ORDDAT YYYYMMDD
    max_lines_per_document=0,  # none documented (X3 sizes order lines per activity code)
    max_lines_per_file=0,  # none documented
    reference_field="reference",  # CUSORDREF: the Magento increment id, unique per order
    encoding="ascii",  # §6: ASCII by default (the template's character set; a recipe may
    # choose utf-8 where the site's template says so)
    delimiter=";",
    line_ending="\r\n",
    # X3 takes no tax code from the file: these only group the posting, and a Magento rate
    # not listed holds its order until the recipe names it
    mapping_defaults={"tax_codes": {"20": "VAT20", "5": "VAT5", "0": "VAT0"},
                      "adjustment_tax_code": "VAT0", "payment_tax_code": "VAT0"},
    # the recipe's [sage] fields; "" where only the site can know (its sites, items and
    # customer categories), so a missing one holds the order with the column named
    template_fields={"order_type": "SON", "site": "", "shipping_site": "",
                     "carriage_item": "", "extra_item": "", "customer_category": "",
                     "address_code": "MAIN"},
    post_from=("orders",),  # SOH only: Magento invoices have no X3 template (§6)
    unit_price_places=4,  # GROPRI (10.4): X3 computes a line as QTY x GROPRI
)

PRODUCT = SageProduct(
    key="sagex3",
    title="Sage X3",
    package=__name__,
    import_format=CAPABILITIES,
    templates=("customers", "sales_orders"),  # customers first: an order needs its customer
    layouts=LAYOUTS,
    ack=ACK,
    demo_recipe="recipes/sagex3.toml",
)
