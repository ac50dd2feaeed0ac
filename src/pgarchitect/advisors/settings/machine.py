"""What is known of the machine the server runs on: its memory and its storage.

Only what can be shown is used: a value the user gives (``machine_memory_mb``,
``storage``), what a managed service is known to use, or, when the server runs on
this very machine (a connection over a Unix socket or to localhost), what the
kernel says: ``/proc/meminfo`` for the memory, the rotational flag of the block
device that holds the data directory for the storage. Anything else is unknown,
and a rule that needs it proposes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from pgarchitect.advisors.settings.managed import Service
from pgarchitect.settings import Config

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
MEMINFO = Path("/proc/meminfo")
SYS_DEV_BLOCK = Path("/sys/dev/block")

# Readable by a superuser or a member of pg_read_all_settings; others get no row.
DATA_DIRECTORY_SQL = "SELECT setting FROM pg_settings WHERE name = 'data_directory'"


@dataclass(frozen=True)
class Known:
    """A fact about the machine, or None, and where it came from (or why it is unknown)."""

    value: Any
    how: str


def is_local(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server runs on this machine: a Unix socket, or localhost."""
    host = conn.info.host or ""
    return host.startswith("/") or host in LOCAL_HOSTS


def meminfo_mb(text: str) -> int | None:
    """MemTotal of a /proc/meminfo text, in MB.

    >>> meminfo_mb("MemTotal:       24683772 kB\\nMemFree: 1 kB\\n")
    24105
    """
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            return int(parts[1]) // 1024 if len(parts) >= 2 and parts[1].isdigit() else None
    return None


def memory(conn: psycopg.Connection[Any], config: Config) -> Known:
    """The machine's memory in MB: given, or read from /proc/meminfo when the server is local."""
    given = config.get_int("machine_memory_mb")
    if given > 0:
        return Known(given, "given in the setting machine_memory_mb")
    if is_local(conn):
        try:
            found = meminfo_mb(MEMINFO.read_text())
        except OSError:
            found = None
        if found:
            return Known(found, "MemTotal of /proc/meminfo (the server runs on this machine; "
                         "in a container the server may see less: set machine_memory_mb)")
    return Known(None, "unknown: set machine_memory_mb to the server machine's memory")


def rotational(path: str) -> Known:
    """Whether the block device holding ``path`` spins, from /sys (True, False or None)."""
    try:
        dev = os.stat(path).st_dev
    except OSError as exc:
        return Known(None, f"unknown: the data directory could not be read ({exc.strerror})")
    major, minor = os.major(dev), os.minor(dev)
    if major == 0:  # overlay, tmpfs, a network file system: no block device to ask
        return Known(None, f"unknown: the data directory {path} is on no block device "
                     "(overlay, tmpfs or a network file system)")
    device = (SYS_DEV_BLOCK / f"{major}:{minor}").resolve()
    # A partition has no queue of its own: its disk's is one folder up.
    for folder in (device, device.parent):
        flag = folder / "queue" / "rotational"
        try:
            text = flag.read_text().strip()
        except OSError:
            continue
        return Known(text == "1", f"{flag} is {text} for the device of the data directory "
                     f"{path}")
    return Known(None, f"unknown: no rotational flag for device {major}:{minor} in /sys")


def storage(conn: psycopg.Connection[Any], config: Config, service: Service) -> Known:
    """The server's storage: "ssd", "hdd" or None, with how that is known."""
    given = (config.get_str("storage") or "").strip().lower()
    if given in ("ssd", "hdd"):
        return Known(given, "given in the setting storage")
    if service.managed:
        return Known("ssd", f"{service.label} stores data on SSD by default (Cloud SQL's "
                     "HDD and RDS's magnetic storage are the exceptions: check the instance)")
    if not is_local(conn):
        return Known(None, "unknown: the server is not on this machine; set storage = 'ssd' "
                     "or 'hdd'")
    row = conn.execute(DATA_DIRECTORY_SQL).fetchone()
    if row is None:
        return Known(None, "unknown: the role may not read data_directory (grant "
                     "pg_read_all_settings) and storage is not set")
    spins = rotational(str(row[0]))
    if spins.value is None:
        return spins
    return Known("hdd" if spins.value else "ssd", spins.how)
