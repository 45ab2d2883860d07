"""What the import step needs from wherever Sage collects its files (a folder, an SFTP server).

A delivery lands each file whole or not at all: it writes under a temporary name the delivery
itself recognises, makes the data durable, lets the caller journal "ready", then renames it into
place. The temporary name is derived from the file's, not random, so recovery after a crash can
tell "still under its temporary name: never renamed" from "gone: renamed, then collected".
Locations are the strings the ledger's batch plan and delivery journal record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

__all__ = ["Delivery"]


class Delivery(Protocol):
    """A place files are delivered to atomically; see the module docstring."""

    def prepare(self) -> None:
        """Make the place ready to receive files; TransientError if it cannot be reached."""
        ...

    def location(self, name: str) -> str:
        """Where the file called `name` lands, as the batch plan records it."""
        ...

    def deliver(self, name: str, data: bytes | Iterable[bytes],
                ready: Callable[[], None] | None = None) -> str:
        """Land `data` (bytes, or byte chunks streamed in order so a large file never sits in
        memory) as `name` atomically and return its location; `ready` is called once the
        data is complete under its temporary name and before the rename. TransientError when
        it cannot be written (nothing half-written is ever visible); if the rename's outcome
        itself is unknown (a connection broke while it was asked for), a TransientError whose
        `uncertain` is True: only recovery, asking the place again, may decide."""
        ...

    def landed(self, location: str) -> bool:
        """The file is in place (it may since have been collected: then False)."""
        ...

    def pending(self, location: str) -> bool:
        """The file is still under its temporary name: it was never renamed into place."""
        ...

    def discard_pending(self, location: str) -> None:
        """Remove the temporary of one file, if it is there."""
        ...

    def remove_temporaries(self) -> None:
        """Remove every temporary an interrupted delivery left behind (ours only)."""
        ...

    def close(self) -> None:
        """Let go of any connection (a folder holds none)."""
        ...
