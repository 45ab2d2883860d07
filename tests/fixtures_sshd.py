"""A real OpenSSH sshd on 127.0.0.1, for the SFTP delivery tests.

It runs as the current user on a free port, from a temp folder holding its config, a generated
host key and an authorized client key, with the internal-sftp subsystem (`sshd -f config -D
-e`). Tests skip with the reason when sshd or ssh-keygen is not installed (`make test`
installs openssh-server when it runs as root).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from sagesync.delivery.sftp import fingerprint

__all__ = ["Sshd", "sshd", "sshd_binary"]


def sshd_binary() -> str | None:
    found = shutil.which("sshd")
    for candidate in (found, "/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class Sshd:
    """A running sshd: where it listens, its keys, and the files a recipe names."""

    root: Path
    port: int
    username: str
    client_key: Path  # authorized
    other_key: Path  # not authorized
    known_hosts: Path  # holds the server's real host key
    wrong_known_hosts: Path  # holds another key for the same host
    host_fingerprint: str
    process: subprocess.Popen[bytes]

    def sessions(self) -> list[int]:
        """The pids of the per-connection sshd processes (the listener's children)."""
        import psutil

        try:
            return [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cut(self) -> None:
        """Kill every connection's sshd process, as a network cut would end them."""
        import psutil

        processes = []
        for pid in self.sessions():
            try:
                process = psutil.Process(pid)
                process.kill()
                processes.append(process)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(processes, timeout=10)  # dead before the client goes on

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path, kind: str = "ed25519") -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)


def start_sshd(root: Path) -> Sshd:
    binary = sshd_binary()
    if binary is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH sshd is not installed (apt-get install openssh-server; "
                    "`make test` does it when run as root)")
    if sys.platform == "win32":
        pytest.skip("the sshd fixture runs OpenSSH's POSIX server")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    host_key, client_key, other_key = root / "host_ed25519", root / "client", root / "other"
    for key in (host_key, client_key, other_key):
        _keygen(key)
    wrong_host = root / "wrong_host"
    _keygen(wrong_host)
    (root / "authorized_keys").write_bytes((root / "client.pub").read_bytes())
    port = _free_port()
    config = root / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"PidFile {root / 'sshd.pid'}", f"AuthorizedKeysFile {root / 'authorized_keys'}",
        "UsePAM no", "StrictModes no", "PermitRootLogin yes", "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "Subsystem sftp internal-sftp", "LogLevel ERROR", "MaxStartups 100",
        "MaxSessions 100", ""]), encoding="utf-8")
    if getattr(os, "geteuid", lambda: -1)() == 0:  # sshd run by root wants its privsep folder
        os.makedirs("/run/sshd", exist_ok=True)
    with (root / "sshd.log").open("wb") as log_file:  # sshd keeps its own copy
        process = subprocess.Popen([binary, "-f", str(config), "-D", "-e"],
                                   stdout=subprocess.DEVNULL, stderr=log_file)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            log = (root / "sshd.log").read_text(errors="replace")
            pytest.skip(f"sshd did not start: {log.strip()[:500]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("sshd did not listen within 30 s")
            time.sleep(0.05)
    public = paramiko.Ed25519Key.from_private_key_file(str(host_key))
    name = f"[127.0.0.1]:{port}"
    (root / "known_hosts").write_text(f"{name} {public.get_name()} {public.get_base64()}\n")
    wrong = paramiko.Ed25519Key.from_private_key_file(str(wrong_host))
    (root / "wrong_known_hosts").write_text(f"{name} {wrong.get_name()} {wrong.get_base64()}\n")
    return Sshd(root, port, getpass.getuser(), client_key, other_key, root / "known_hosts",
                root / "wrong_known_hosts", fingerprint(public), process)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()
