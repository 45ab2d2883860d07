"""Where Sage import files go: the :class:`Delivery` interface and its implementations
(a local folder; an SFTP server, in sagesync.delivery.sftp, loaded only when a recipe uses it)."""

from sagesync.delivery.base import Delivery
from sagesync.delivery.factory import delivery_for
from sagesync.delivery.folder import FolderDelivery

__all__ = ["Delivery", "FolderDelivery", "delivery_for"]
