"""asyncssh server per router: password auth from the running config, IOS shell, SCP to flash:/nvram:."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

import asyncssh

from iospki.lab.secrets import verify_secret
from iospki.lab.shell import CliSession
from iospki.lab.storage import StorageError, split_path

if TYPE_CHECKING:
    from iospki.lab.device import Device

log = logging.getLogger("iospki.lab.ssh")


def user_entry(device: Device, username: str) -> tuple[str, int] | None:
    """(stored secret, privilege) of `username <name> ...` in the running config."""
    for node in device.running.find_all(f"username {username}"):
        words = node.words
        if len(words) < 2 or words[1] != username:
            continue
        priv = 1
        if "privilege" in words:
            try:
                priv = int(words[words.index("privilege") + 1])
            except (ValueError, IndexError):
                priv = 1
        for kw in ("secret", "password"):
            if kw in words:
                rest = words[words.index(kw) + 1 :]
                value = rest[-1] if rest else ""
                return value, priv
    return None


class RouterSSHServer(asyncssh.SSHServer):
    def __init__(self, device: Device) -> None:
        self.device = device
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        if "down" in self.device.faults:
            conn.close()

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        if "bad-password" in self.device.faults:
            return False
        entry = user_entry(self.device, username)
        if entry is None:
            return False
        ok = verify_secret(password, entry[0])
        if ok and self.conn is not None:
            self.conn.set_extra_info(privilege=entry[1])
        return ok


class FlashSFTP(asyncssh.SFTPServer):
    """Maps `flash:/name`, `nvram:name` to the device's storage; anything else is refused."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], device: Device) -> None:  # SFTP is binary
        super().__init__(chan)
        self.device = device
        self._uploads: dict[int, bytes] = {}  # id(file object) -> host path, for files opened to write

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        file_obj = super().open(path, pflags, attrs)
        if pflags & asyncssh.FXF_WRITE:
            self._uploads[id(file_obj)] = self.map_path(path)
        return file_obj

    def close(self, file_obj: object) -> None:
        super().close(file_obj)
        host_path = self._uploads.pop(id(file_obj), None)
        if host_path is not None and self.channel.is_closing():
            # the client vanished mid-transfer: a cut file must not look like a good upload in `dir flash:`
            with contextlib.suppress(OSError):
                os.unlink(host_path)
            log.warning("%s: incomplete upload of %s removed", self.device.name, os.fsdecode(host_path))

    def map_path(self, path: bytes) -> bytes:
        text = path.decode("utf-8", "replace")
        if text in ("", ".", "/"):
            text = "flash:"
        # the SCP sink joins a directory target with the file name: flash:/x or flash:x
        try:
            fs, name = split_path(text)
            if not name:
                return os.fsencode(str(self.device.storage.root / ("flash" if fs == "bootflash" else fs)))
            return os.fsencode(str(self.device.storage.path(fs, name)))
        except StorageError as exc:
            raise asyncssh.SFTPError(asyncssh.FX_PERMISSION_DENIED, f"{text}: {exc}") from exc

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPError(asyncssh.FX_PERMISSION_DENIED, "directories are not supported")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPError(asyncssh.FX_PERMISSION_DENIED, "links are not supported")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPError(asyncssh.FX_PERMISSION_DENIED, "links are not supported")


async def _shell(device: Device, process: asyncssh.SSHServerProcess[str]) -> None:
    conn = process.get_extra_info("connection")
    user = process.get_extra_info("username") or ""
    peer = (process.get_extra_info("peername") or ("?", 0))[0]
    privilege = int(conn.get_extra_info("privilege", 1) if conn is not None else 1)
    if process.command:  # exec requests other than scp: IOS answers with the command output? refuse
        process.stderr.write("exec requests are not supported\r\n")
        process.exit(1)
        return
    if len(device.sessions) >= device.vty_lines:  # IOS: no free vty line, the connection is refused
        process.stdout.write("\r\n% All vty lines are in use\r\n")
        process.exit(1)
        if conn is not None:
            conn.close()
        return
    session = CliSession(device, process.stdout, user, peer, privilege)
    used = {s.line_name for s in device.sessions}
    session.line_name = next(f"vty{i}" for i in range(len(used) + 1) if f"vty{i}" not in used)
    device.sessions.add(session)

    async def reader() -> None:
        try:
            while True:
                try:
                    data = await process.stdin.read(4096)
                except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, asyncssh.SignalReceived):
                    continue  # a window change or break is not the end of the session
                if not data:
                    break
                session.feed(data)
        except Exception:  # the channel failed: the session ends like a dropped connection
            pass
        finally:
            session.eof()

    task = asyncio.get_running_loop().create_task(reader())
    try:
        await session.run()
    except Exception:
        log.exception("%s: session crashed", device.name)
    finally:
        device.sessions.discard(session)
        task.cancel()
        with contextlib.suppress(Exception):
            process.exit(0)
        if conn is not None:  # the vty ends with its TCP connection, as on IOS (exit, reload, drop)
            conn.close()


async def start_ssh(device: Device, host_key: asyncssh.SSHKey) -> Any:
    def process_factory(process: asyncssh.SSHServerProcess[str]) -> Any:
        return _shell(device, process)

    return await asyncssh.create_server(
        lambda: RouterSSHServer(device),
        device.address,
        device.port,
        server_host_keys=[host_key],
        process_factory=process_factory,
        sftp_factory=lambda chan: FlashSFTP(chan, device),
        allow_scp=True,
        line_editor=False,
        encoding="utf-8",
        reuse_address=True,
        keepalive_interval=0,
        login_timeout=60,
    )
