"""Where Sage import files go: the :class:`Delivery` interface and its implementations."""

from sagesync.delivery.base import Delivery
from sagesync.delivery.folder import FolderDelivery

__all__ = ["Delivery", "FolderDelivery"]
