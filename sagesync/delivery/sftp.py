"""Deliver files to an SFTP server (paramiko) so that Sage's import side never sees half a file.

Each file is uploaded under a hidden temporary name derived from its own (`.NAME.tmp`, as the
folder delivery does) in the target folder, the upload is confirmed by the server, `ready` is
called, then the file is renamed into place: with OpenSSH's posix-rename where the server offers
it, else with the protocol's plain rename, which never overwrites. An existing file under the
final name is never replaced.

The server's host key must be in the recipe's known_hosts file: an unknown or changed key is
refused with the key's SHA256 fingerprint (as OpenSSH prints it), never accepted. Refused
credentials end the sync (AuthError); a server that cannot be reached, or a connection that
breaks, is a TransientError (the records stay queued). A connection cut while a rename was
asked for leaves its outcome unknown: DeliveryUncertainError, and the next run's recovery asks
the server what landed. No message ever holds the password or the key's passphrase.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import socket
import stat
from collections.abc import Callable, Iterable

import paramiko

from sagesync.delivery.folder import TEMP_SUFFIX
from sagesync.errors import AuthError, RecipeError, TransientError
from sagesync.recipe import DeliverySettings

__all__ = ["DeliveryUncertainError", "HostKeyError", "SftpDelivery", "fingerprint"]

# What a broken or refused connection raises inside paramiko.
_CONNECTION_ERRORS = (OSError, EOFError, paramiko.SSHException)


class HostKeyError(AuthError):
    """The server's host key is not the one known_hosts holds for it: the server could not
    prove who it is, so nothing is sent until a person checks the key."""


class DeliveryUncertainError(TransientError):
    """The connection broke while a rename was asked for: whether the file is in place is
    unknown until the server is asked again (the next run's recovery does)."""

    uncertain = True


def fingerprint(key: paramiko.PKey) -> str:
    """The key's SHA256 fingerprint as OpenSSH prints it (`SHA256:` + unpadded base64)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def temporary_name(name: str) -> str:
    return f".{name}{TEMP_SUFFIX}"


class SftpDelivery:
    """A :class:`sagesync.delivery.base.Delivery` into a folder on an SFTP server.

    The connection opens in `prepare` (or at first use) and is kept until `close`."""

    def __init__(self, settings: DeliverySettings) -> None:
        self.settings = settings
        self.folder = settings.remote_path or "/"
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._posix_rename: bool | None = None

    # -- where -----------------------------------------------------------------------------
    @property
    def _prefix(self) -> str:
        s = self.settings
        host = f"[{s.host}]" if ":" in s.host else s.host
        return f"sftp://{s.username}@{host}:{s.port}"

    @property
    def server(self) -> str:
        """The server as the known_hosts file names it."""
        s = self.settings
        return s.host if s.port == 22 else f"[{s.host}]:{s.port}"

    def location(self, name: str) -> str:
        path = posixpath.join(self.folder, name)
        return self._prefix + (path if path.startswith("/") else "/~/" + path)

    def _remote(self, location: str) -> str:
        """The path on the server of a location this delivery gave."""
        if not location.startswith(self._prefix + "/"):
            raise RecipeError(
                f"An interrupted batch was planned for {location}, which is not this recipe's "
                f"SFTP delivery ({self._prefix}{self.folder}): restore the [delivery] settings "
                "it was planned with and run again so it can be finished.")
        path = location[len(self._prefix):]
        return path[len("/~/"):] if path.startswith("/~/") else path

    # -- the connection --------------------------------------------------------------------
    def prepare(self) -> None:
        """Connect, check the host key, log in and make sure the folder exists."""
        sftp = self._client()
        try:
            sftp.stat(self.folder)
        except FileNotFoundError:
            try:
                self._make_folders(sftp, self.folder)
            except PermissionError:
                raise AuthError(f"{self.server}: {self.settings.username} may not create the "
                                f"delivery folder {self.folder} ([delivery] path).") from None
            except _CONNECTION_ERRORS as exc:
                raise self._transient("creating the delivery folder", exc) from None
        except PermissionError:
            raise AuthError(f"{self.server}: {self.settings.username} may not read the delivery "
                            f"folder {self.folder} ([delivery] path).") from None
        except _CONNECTION_ERRORS as exc:
            raise self._transient("opening the delivery folder", exc) from None

    @staticmethod
    def _make_folders(sftp: paramiko.SFTPClient, folder: str) -> None:
        parts, path = [p for p in folder.split("/") if p], "/" if folder.startswith("/") else ""
        for part in parts:
            path = posixpath.join(path, part) if path else part
            try:
                sftp.stat(path)
            except FileNotFoundError:
                sftp.mkdir(path)

    def _client(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        s = self.settings
        try:
            sock = socket.create_connection((s.host, s.port), timeout=s.timeout_seconds)
        except OSError as exc:
            raise TransientError(
                f"Cannot reach the SFTP server {self.server}: "
                f"{exc.strerror or exc.__class__.__name__}. Nothing was sent; the records stay "
                "queued and the next run retries.") from None
        transport = paramiko.Transport(sock)
        try:
            self._login(transport)
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise paramiko.SSHException("the server opened no SFTP session")
            sftp.get_channel().settimeout(s.timeout_seconds)  # type: ignore[union-attr]
        except BaseException as exc:
            transport.close()
            if isinstance(exc, _CONNECTION_ERRORS) and not isinstance(
                    exc, paramiko.AuthenticationException):
                raise self._transient("connecting", exc) from None
            raise
        self._transport, self._sftp = transport, sftp
        return sftp

    def _login(self, transport: paramiko.Transport) -> None:
        s = self.settings
        known = self._known_keys()
        options = transport.get_security_options()
        offered = [t for t in options.key_types if t in known]
        if offered:  # ask for a key type known_hosts holds, so a match is possible
            options.key_types = offered
        try:
            transport.start_client(timeout=s.timeout_seconds)
        except paramiko.SSHException as exc:
            if offered and "host key" in str(exc).lower():
                raise HostKeyError(
                    f"The SFTP server {self.server} offers none of the host key types "
                    f"{s.known_hosts} holds for it ({', '.join(offered)}): the host key "
                    "changed, or this may not be the server. Nothing was sent; the sync is "
                    "halted.", hint=f"Check with the server's administrator, then replace its "
                    f"entry in [delivery] known_hosts (`ssh-keyscan -p {s.port} {s.host}`)."
                    ) from None
            raise
        key = transport.get_remote_server_key()
        expected = known.get(key.get_name())
        if expected is None or expected != key:
            if not known:
                what = (f"is not in {s.known_hosts} (an unknown host; nothing is accepted "
                        "without a person)")
            else:
                what = (f"does not match the key {s.known_hosts} holds for it (the host key "
                        "changed: the server may have been reinstalled, or this may not be "
                        "the server)")
            raise HostKeyError(
                f"The SFTP server {self.server} offered the {key.get_name()} host key "
                f"{fingerprint(key)}, which {what}. Nothing was sent; the sync is halted.",
                hint=f"Check the fingerprint with the server's administrator, then add the "
                     f"key to [delivery] known_hosts (`ssh-keyscan -p {s.port} {s.host}` "
                     "prints it).")
        try:
            if s.key_file is not None:
                transport.auth_publickey(s.username, self._private_key())
            else:
                transport.auth_password(s.username, s.password or "")
        except paramiko.AuthenticationException:
            how = f"the key {s.key_file}" if s.key_file is not None else "the password"
            raise AuthError(f"The SFTP server {self.server} refused {s.username} with {how}. "
                            "Nothing was sent; the sync is halted until the credentials "
                            "([delivery] username, key_file or password in .env) are "
                            "fixed.") from None

    def _known_keys(self) -> dict[str, paramiko.PKey]:
        """The host keys known_hosts holds for this server, by key type."""
        path = self.settings.known_hosts
        keys = paramiko.HostKeys()
        try:
            keys.load(str(path))
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise RecipeError(f"Cannot read [delivery] known_hosts {path}: {exc}") from None
        found = keys.lookup(self.server)
        return {name: found[name] for name in found} if found is not None else {}

    def _private_key(self) -> paramiko.PKey:
        s = self.settings
        assert s.key_file is not None
        try:
            return paramiko.PKey.from_path(s.key_file, s.key_passphrase or None)
        except paramiko.PasswordRequiredException:
            raise RecipeError(f"The SFTP key {s.key_file} is encrypted: set [delivery] "
                              'key_passphrase = "${SFTP_KEY_PASSPHRASE}" and put it in '
                              ".env.") from None
        except (paramiko.SSHException, ValueError, OSError) as exc:
            wrong = "bad passphrase" if s.key_passphrase and "passphrase" in str(exc).lower() \
                else exc.__class__.__name__
            raise AuthError(f"Cannot load the SFTP key {s.key_file} ([delivery] key_file): "
                            f"{wrong}. Nothing was sent; the sync is halted.") from None

    def close(self) -> None:
        """End the connection (each run opens its own)."""
        if self._sftp is not None:
            self._sftp.close()
        if self._transport is not None:
            self._transport.close()
        self._sftp = self._transport = None

    def _transient(self, doing: str, exc: BaseException) -> TransientError:
        self.close()
        text = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
        return TransientError(f"The SFTP connection to {self.server} failed while {doing}: "
                              f"{text}. Nothing under a final name is half-written; the "
                              "records stay queued and the next run retries.")

    # -- files -----------------------------------------------------------------------------
    def deliver(self, name: str, data: bytes | Iterable[bytes],
                ready: Callable[[], None] | None = None) -> str:
        """Upload `name` under its temporary name, call `ready`, rename it into place."""
        sftp = self._client()
        final = posixpath.join(self.folder, name)
        temporary = posixpath.join(self.folder, temporary_name(name))
        try:
            with sftp.open(temporary, "wb") as handle:
                handle.set_pipelined(True)
                for chunk in (data,) if isinstance(data, bytes | bytearray) else data:
                    handle.write(chunk)
            if self._exists(sftp, final):
                raise TransientError(
                    f"{self.location(name)} already exists on the server: sagesync never "
                    "overwrites a file there. The records stay queued for the next batch; "
                    "check who else writes into that folder.")
        except PermissionError:
            raise AuthError(f"{self.server}: {self.settings.username} may not write into "
                            f"{self.folder} ([delivery] path).") from None
        except _CONNECTION_ERRORS as exc:
            raise self._transient(f"uploading {name}", exc) from None
        if ready is not None:
            ready()
        try:
            self._rename(sftp, temporary, final)
        except _CONNECTION_ERRORS as exc:
            self.close()
            raise DeliveryUncertainError(
                f"The SFTP connection to {self.server} broke while {name} was being renamed "
                f"into place ({exc.__class__.__name__}). The next run asks the server whether "
                "it landed and finishes the batch exactly once.") from None
        return self.location(name)

    def _rename(self, sftp: paramiko.SFTPClient, temporary: str, final: str) -> None:
        """posix-rename (atomic) where the server has it; else the protocol's rename, which
        refuses an existing target (checked before `ready` as well)."""
        if self._posix_rename is not False:
            try:
                sftp.posix_rename(temporary, final)
                self._posix_rename = True
                return
            except OSError as exc:
                active = self._transport is not None and self._transport.is_active()
                if self._posix_rename or not active or "unsupported" not in str(exc).lower():
                    raise
                self._posix_rename = False
        sftp.rename(temporary, final)

    @staticmethod
    def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
        try:
            sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    def _ask(self, what: str, path: str) -> bool:
        try:
            return self._exists(self._client(), path)
        except _CONNECTION_ERRORS as exc:
            raise self._transient(f"checking {what}", exc) from None

    def landed(self, location: str) -> bool:
        return self._ask("what landed", self._remote(location))

    def pending(self, location: str) -> bool:
        remote = self._remote(location)
        return self._ask("what is pending", posixpath.join(posixpath.dirname(remote),
                                                           temporary_name(
                                                               posixpath.basename(remote))))

    def discard_pending(self, location: str) -> None:
        remote = self._remote(location)
        temporary = posixpath.join(posixpath.dirname(remote),
                                   temporary_name(posixpath.basename(remote)))
        try:
            self._client().remove(temporary)
        except FileNotFoundError:
            pass
        except _CONNECTION_ERRORS as exc:
            raise self._transient("removing a temporary file", exc) from None

    def remove_temporaries(self) -> None:
        """Delete `.B….tmp` files an interrupted upload left in the folder (ours only)."""
        sftp = self._client()
        try:
            for entry in sftp.listdir_attr(self.folder):
                name = entry.filename
                if name.startswith(".B") and name.endswith(TEMP_SUFFIX) \
                        and stat.S_ISREG(entry.st_mode or 0):
                    sftp.remove(posixpath.join(self.folder, name))
        except _CONNECTION_ERRORS as exc:
            raise self._transient("removing temporary files", exc) from None

