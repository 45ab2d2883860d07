"""What sagesync reads back from Sage 50 Canada: the ack (README.md here).

Sage 50 Canada has no export of imported .IMP documents as such; the site's own report of
posted sales (the Sales Journal, Reports > Journal Entries > Sales, exported to a CSV file)
lists each invoice's number (the Invoice No sagesync wrote: the Magento increment id) and the
journal entry number Sage gave it. Its column names are the site's report layout, in the
recipe's [ack] section. Stock and price exports are not read yet (no layouts).
"""

from sagesync.sage.products.base import AckLayout

ACK = AckLayout(
    # a <SalInvoice> answers an invoice (or an order, with [sage] post_from = "orders"); the
    # .IMP has no credit note, so nothing else is sagesync's
    types={"SI": ("invoice", "order")},
    expected=("a CSV export of Sage 50 Canada's Sales Journal (UTF-8 or Windows-1252) with a "
              "header row holding the columns named in the recipe's [ack] section (the invoice "
              "number and the journal entry number), one row or more per posted invoice"),
)
