"""Sage 50 Accounts UK/IE: audit-trail SI/SC splits and customer records (see README.md here).

Every fact below is from shared/reference/sage-formats.md §1.1-§1.3 (Sage KB "Audit trail
transaction data fields" and "Customer record data fields"); where Sage documents nothing, the
value is the assumption the project README states and the golden files are made with. What is
read back from Sage (stock, prices, the ack export) is in `exports.py`.
"""

from decimal import Decimal

from sagesync.sage.products.base import Capabilities, SageProduct
from sagesync.sage.products.sage50_uk.exports import ACK, LAYOUTS

CAPABILITIES = Capabilities(
    # §1.2 column A: sagesync writes only the sales types; one row per nominal/tax split
    document_record_types=("SI", "SC"),
    line_record_types=(),  # the Invoicing module (item lines) cannot be imported
    sale_type="SI",
    credit_type="SC",
    # negative splits inside a document, as in Sage's batch entry; a recipe opts in with
    # [sage] negative_amounts = true. The default stays positive amounts with the type carrying
    # the direction (§1.2 "Sign"; Sage documents neither, §11.1).
    negative_amounts=True,
    sage_computes_tax=False,  # column J: "Not derived from Net"
    max_amount=Decimal("99999999.99"),  # "Decimal 11": 8 digits + 2 places
    code_lengths={"transaction_type": 2, "account_ref": 8, "nominal_code": 8,
                  "reference": 30, "extra_reference": 30, "tax_code": 3},
    code_patterns={"transaction_type": "S[IC]", "account_ref": "[A-Z0-9]{1,8}",
                   "nominal_code": "[A-Za-z0-9]{1,8}", "tax_code": "T[0-9]{1,2}"},
    date_format="%d/%m/%Y",
    max_lines_per_document=0,  # none documented
    max_lines_per_file=0,  # none documented (a line is at most 1775 characters, §1.1)
    reference_field="reference",
    encoding="cp1252",  # unconfirmed (§11.1); a recipe may choose another
    delimiter=",",
    line_ending="\r\n",
)

PRODUCT = SageProduct(
    key="sage50_uk",
    title="Sage 50 Accounts UK/IE",
    package=__name__,
    import_format=CAPABILITIES,
    templates=("customers", "audit_trail"),
    layouts=LAYOUTS,
    ack=ACK,
    demo_recipe="recipes/demo.toml",
)
