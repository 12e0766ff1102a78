"""Per-device persistent storage (`nvram:`, `flash:`): a directory per file system under the lab state dir.

It survives `reload` and a lab restart with the same state dir, as a router's NVRAM and flash do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

FILESYSTEMS = {"nvram": 2097152, "flash": 7194652672, "bootflash": 7194652672}
_NAME = re.compile(r"^[A-Za-z0-9._#+@-][A-Za-z0-9._#+@ -]{0,127}$")


class StorageError(Exception):
    pass


@dataclass
class FileInfo:
    name: str
    size: int
    mtime: datetime


def split_path(path: str, default_fs: str = "flash") -> tuple[str, str]:
    """'flash:/x.txt' -> ('flash', 'x.txt'); 'nvram:x' -> ('nvram', 'x'); 'x' -> (default_fs, 'x')."""
    path = path.strip()
    fs = default_fs
    if ":" in path:
        fs, path = path.split(":", 1)
        fs = fs.lower()
    name = path.lstrip("/")
    if fs == "bootflash":
        fs = "flash"
    if fs not in FILESYSTEMS:
        raise StorageError(f"unknown file system {fs}:")
    return fs, name


class Storage:
    """Files of one device. Names are flat (no sub-directories), as on a router's flash root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for fs in ("nvram", "flash"):
            (root / fs).mkdir(parents=True, exist_ok=True)

    def _file(self, fs: str, name: str) -> Path:
        if fs == "bootflash":
            fs = "flash"
        if fs not in ("nvram", "flash"):
            raise StorageError(f"unknown file system {fs}:")
        if not _NAME.match(name) or name in (".", ".."):
            raise StorageError(f"invalid file name {name!r}")
        return self.root / fs / name

    def path(self, fs: str, name: str) -> Path:
        """Real path of a device file (for code that must hand a path to a library)."""
        return self._file(fs, name)

    def exists(self, fs: str, name: str) -> bool:
        return self._file(fs, name).is_file()

    def read(self, fs: str, name: str) -> bytes:
        p = self._file(fs, name)
        if not p.is_file():
            raise StorageError(f"{fs}:{name} (No such file or directory)")
        return p.read_bytes()

    def write(self, fs: str, name: str, data: bytes) -> None:
        p = self._file(fs, name)
        tmp = p.with_name(p.name + ".tmp~")
        tmp.unlink(missing_ok=True)
        # 0600: nvram:private-config holds the routers' private keys (the lab CA's among them) and the CA's
        # archives its key; a router's storage is nobody else's business on a shared machine (issue 12 §8)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        tmp.replace(p)

    def delete(self, fs: str, name: str) -> bool:
        p = self._file(fs, name)
        if p.is_file():
            p.unlink()
            return True
        return False

    def list(self, fs: str) -> list[FileInfo]:
        if fs == "bootflash":
            fs = "flash"
        d = self.root / fs
        out = []
        for p in sorted(d.iterdir()):
            if p.is_file() and not p.name.endswith(".tmp~"):
                st = p.stat()
                out.append(FileInfo(p.name, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)))
        return out

    def used(self, fs: str) -> int:
        return sum(f.size for f in self.list(fs))
