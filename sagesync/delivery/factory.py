"""The delivery a recipe names: a local folder, or an SFTP server.

`--out DIR` on the command line always means a local folder, whatever the recipe says. Nothing
connects here: an SFTP delivery opens its connection in `prepare`, so a dry run never does.
"""

from __future__ import annotations

from pathlib import Path

from sagesync.delivery.base import Delivery
from sagesync.delivery.folder import FolderDelivery
from sagesync.errors import UsageError
from sagesync.recipe import DeliverySettings

__all__ = ["delivery_for"]


def delivery_for(settings: DeliverySettings, out_dir: Path | None = None) -> Delivery:
    """The recipe's delivery, or the folder `out_dir` when one is given."""
    if out_dir is not None:
        return FolderDelivery(out_dir)
    if settings.kind == "sftp":
        from sagesync.delivery.sftp import SftpDelivery  # paramiko loads only when used

        return SftpDelivery(settings)
    if settings.path is None:
        raise UsageError("No delivery folder: set [delivery] path in the recipe or pass --out.")
    return FolderDelivery(settings.path)
