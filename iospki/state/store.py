"""The on-disk layout of a collection: one directory per host, one file per command.

    DIR/meta.json                         when, which iospki, which hosts succeeded/failed;
                                          "interrupted": true until the collection finished
    DIR/<host>/<command_with_underscores>.txt
    DIR/<host>/<name>.json                structured extras (e.g. parsed facts)
    DIR/<host>/_error.txt                 why the host failed (present only for failed hosts)
    DIR/<host>/read_times.json            per command: [sent, answered] on the collector's clock (UTC)

Every write is atomic (temporary file in the same directory, fsync, os.replace), so an
interrupted collection never leaves a half-written output behind; `durable_batch()` groups the
writes of one host folder so they cost one flush and one directory fsync; a write that fails (full
disk, read-only) is a `WriteFailed` naming the path and leaves no temporary file. A writer killed (kill -9)
leaves only its `.tmp-*.part` files: readers skip them and the next writer to take the collection's lock
removes them (`remove_stale_temp`). Secrets are redacted
before anything touches the disk, and a collection stays private to its user (folders 0700, files 0600).

    >>> command_filename("show crypto pki timers detail")
    'show_crypto_pki_timers_detail.txt'
    >>> filename_command("show_crypto_pki_timers_detail.txt")
    'show crypto pki timers detail'
    >>> filename_command(command_filename("show crypto pki certificates verbose MY_TP"))
    'show crypto pki certificates verbose MY_TP'
    >>> redact("username admin secret 9 $9$abc", [])
    'username admin secret 9 <redacted>'
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from json.encoder import encode_basestring_ascii as _quote  # C, where CPython has it
from pathlib import Path
from typing import Any

META_FILE = "meta.json"
ERROR_FILE = "_error.txt"
INTERRUPTED = "interrupted"  # meta.json key: true while a collection has not finished
READ_TIMES = "read_times"
FACTS = "facts"  # NAPALM's facts (`collect` without --no-facts)
PARSE_ERRORS = "parse_errors"  # `collect`'s record of what did not parse (the loader parses again)
REDACTED = "<redacted>"

# Characters kept as they are in file names; everything else (and '_' itself, which
# stands for a space) is %XX-encoded so that the mapping is reversible.
_SAFE = re.compile(r"[A-Za-z0-9.\-]")
_HOST_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+\-]*")
_HOST_MAX_BYTES = 200  # a file name is at most 255 bytes; room for a suffix
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._%\-]*$")


class StoreError(ValueError):
    """A collection directory or a name in it is unusable; the message names the host."""


# --------------------------------------------------------------------------- names


@functools.lru_cache(maxsize=4096)  # a collect names the same dozen commands on every host
def command_filename(command: str) -> str:
    """File name for `command`: single-spaced, spaces as '_', other unsafe characters %XX, '.txt'."""
    cmd = " ".join(command.split())
    if not cmd:
        raise StoreError("empty command")
    out: list[str] = []
    for ch in cmd:
        if ch == " ":
            out.append("_")
        elif _SAFE.fullmatch(ch):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out) + ".txt"


def filename_command(filename: str) -> str:
    """Inverse of `command_filename` (accepts a bare name or a path)."""
    name = os.path.basename(filename)
    if name.endswith(".txt"):
        name = name[:-4]
    if "%" not in name:  # the usual name: nothing escaped (the loop below gives the same, slower)
        return name.replace("_", " ")
    raw = bytearray()
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "%" and re.fullmatch(r"[0-9A-Fa-f]{2}", name[i + 1 : i + 3]):
            raw.append(int(name[i + 1 : i + 3], 16))
            i += 3
            continue
        raw.extend(b" " if ch == "_" else ch.encode("utf-8"))
        i += 1
    return raw.decode("utf-8", errors="replace")


def host_name_problem(host: object) -> str | None:
    """Why `host` cannot name a host folder (a host name becomes a path under a collection or
    backup root, so `../x`, `/etc` or `.ssh` would write elsewhere), or None when it can.

    >>> host_name_problem("r1.example.com"), host_name_problem("../../evil")
    (None, 'contains a path separator')
    """
    if not isinstance(host, str) or not host:
        return "empty"
    if "\x00" in host:
        return "contains a NUL character"
    if "/" in host or "\\" in host:
        return "contains a path separator"
    if host.startswith("."):
        return "starts with a dot (a relative path or a hidden folder)"
    if len(host.encode("utf-8")) > _HOST_MAX_BYTES:
        return f"longer than {_HOST_MAX_BYTES} bytes"
    if not _HOST_OK.fullmatch(host):
        return "not a safe file name (letters, digits and . _ - : @ + only, starting with a letter or digit)"
    return None


def host_dir(root: Path | str, host: str, create: bool = False) -> Path:
    """`root/host`, refused (StoreError naming the host) when the name is no safe file name,
    when that folder is a symbolic link, or when it resolves anywhere but directly in `root`
    (a symlinked folder could send a collection or a backup anywhere on the disk)."""
    problem = host_name_problem(host)
    if problem:
        raise StoreError(f"host {host!r}: not usable as a folder name: {problem}")
    base = Path(root)
    d = base / host
    batch = _BATCH.get() if create else None
    checked = batch.checked if batch is not None else None
    if checked is not None and d in checked:  # made and checked by this durable_batch already
        return d
    if create:
        make_dirs(base, PRIVATE_DIR_MODE)
        try:
            d.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _refused(d, exc) from None
        else:  # made here: a new folder named `host` in `base` (mkdir follows no link), the checks below hold
            if checked is not None:
                checked.add(d)
            return d
    if d.is_symlink():
        raise StoreError(f"host {host}: {d} is a symbolic link (refused: it could point outside {base})")
    if d.exists() and d.resolve().parent != base.resolve():
        raise StoreError(f"host {host}: {d} resolves outside {base}")
    if checked is not None:
        checked.add(d)
    return d


_host_dir = host_dir


# --------------------------------------------------------------------------- redaction

# `<keyword> [<type digit>] <value>`: the value goes, keyword and type stay so the line
# still shows that a secret is configured.
_SECRET_LINE = re.compile(
    r"(?P<kw>\b(?:password|secret|passphrase|community|key-string|pre-shared-key(?:\s+address\s+\S+)?"
    r"|authentication-key\s+\d+\s+md5|key)\b)"
    r"(?P<sep>\s+)(?P<type>(?:[0-9]\s+))?(?P<val>\S+)",
    re.IGNORECASE,
)
_SECRET_WORDS = ("password", "secret", "passphrase", "community")
# Config lines whose value is a key (`key 7 ...`, `key-string ...`, `crypto isakmp key ...`).
_KEY_LINE = re.compile(
    r"^\s*(?:key(?:-string)?\s|.*\bpre-shared-key\s|.*\bauthentication-key\s|crypto isakmp key\s)"
)
# A line can lose a value only if its lower case holds one of these (a secret word, or "key" for `_KEY_LINE`):
# one search of the whole text finds those lines instead of a test of every line of every output.
_TRIGGER = re.compile("|".join((*_SECRET_WORDS, "key")))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values and the values of password/secret lines from `text`.

    `secrets` are literal values (device passwords, challenge passwords, CA passphrases)
    replaced wherever they appear. Config lines such as `password 7 0822455D0A16`,
    `database archive pkcs12 password 0 cisco123` or `enable secret 9 ...` keep their
    keywords and lose the value.

        >>> redact(" database archive pkcs12 password 0 cisco123", [])
        ' database archive pkcs12 password 0 <redacted>'
        >>> redact("login with hunter2 now", ["hunter2"])
        'login with <redacted> now'
        >>> redact("  rsakeypair client-key 2048", [])
        '  rsakeypair client-key 2048'
    """
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, REDACTED)
    low = text.lower()
    found = _TRIGGER.search(low)
    if found is None:  # most outputs: no line can name a secret
        return text
    lines = text.split("\n")
    lows = low.split("\n")  # lows[i] == lines[i].lower(): lower() maps characters, never adds or drops a line break
    if len(lows) == len(lines):
        todo: Iterable[int] = _trigger_lines(low, found)
    else:  # never seen; then every line, rather than a wrong line redacted
        todo, lows = range(len(lines)), [line.lower() for line in lines]
    for i in todo:
        line, lower = lines[i], lows[i]
        if any(k in lower for k in _SECRET_WORDS) or ("key" in lower and _KEY_LINE.match(line)):
            lines[i] = _SECRET_LINE.sub(_redact_match, line)
    return "\n".join(lines)


def _trigger_lines(low: str, found: re.Match[str] | None) -> Iterator[int]:
    """The numbers of the lines of `low` that hold a `_TRIGGER` word, from the first one `found`, each once."""
    line_no, pos = 0, 0  # line_no: the line that position `pos` of `low` is on
    while found is not None:
        line_no += low.count("\n", pos, found.start())
        yield line_no
        pos = low.find("\n", found.start())  # the end of that line: the next trigger is on a later line
        if pos < 0:
            return
        found = _TRIGGER.search(low, pos)


def _redact_match(m: re.Match[str]) -> str:
    val = m.group("val")
    if val == REDACTED:
        return m.group(0)
    return f"{m.group('kw')}{m.group('sep')}{m.group('type') or ''}{REDACTED}"


# --------------------------------------------------------------------------- atomic writes

# Raw collections hold device configuration: private to the user who collected them (files 0600 from
# mkstemp, folders 0700). Reports are written for others to read (node_exporter, a web server): they
# follow the umask as any file the user creates does (`shared_mode`).
PRIVATE_DIR_MODE = 0o700

# Causes that are the caller's mistake (a file where a folder must be, a folder where the file goes):
# a usage error; anything else (read-only, permission, full disk) is the environment.
_USAGE_ERRNOS = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ENOENT})


class WriteFailed(OSError):
    """A file or folder could not be written; `str()` is one line naming the path and the cause.

    An OSError, so callers that already catch OSError keep doing so; `usage` tells a wrong path
    (exit 2) from an environment that refuses it (exit 3)."""

    def __init__(self, path: Path | str, cause: OSError, what: str = "cannot write") -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = Path(path)
        self.what = what

    @property
    def usage(self) -> bool:
        return self.errno in _USAGE_ERRNOS

    def __str__(self) -> str:
        return f"{self.what} {self.path}: {self.strerror}"


def _refused(path: Path, exc: OSError, what: str = "cannot write") -> WriteFailed:
    if isinstance(exc, WriteFailed):
        return exc
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        # mkdir met a file: name the file that is in the way, not the folder we wanted
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return WriteFailed(blocker, OSError(errno.ENOTDIR, "exists and is not a directory"), "cannot use")
    # name what the user named: never our temporary file (os.replace reports its source)
    named = exc.filename if exc.filename and not Path(str(exc.filename)).name.startswith(".tmp-") else path
    return WriteFailed(named, exc, what)


def shared_mode() -> int:
    """The mode a new file of this process gets from the umask (0666 & ~umask): reports use it."""
    return 0o666 & ~_umask()


def _umask() -> int:
    # /proc says it without changing it (os.umask can only be read by setting it)
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def make_dirs(path: Path | str, mode: int = 0o777) -> Path:
    """`mkdir -p path` (the last folder with `mode`); a file in the way or a refusal is a WriteFailed."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
    except OSError as exc:
        raise _refused(path, exc) from None
    if not path.is_dir():
        raise _refused(path, FileExistsError(errno.EEXIST, "exists", str(path)))
    return path


def prepare_collection(root: Path | str) -> Path:
    """Create the collection folder (private, 0700) and prove it can hold a file before any device is read:
    a read-only, refused or full location is one WriteFailed now, not a failure per host later."""
    root = make_dirs(root, PRIVATE_DIR_MODE)
    fd = -1
    probe = ""
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=root)
        os.write(fd, b"iospki")
        os.fsync(fd)
    except OSError as exc:
        raise _refused(root, exc) from None
    finally:
        if fd >= 0:
            os.close(fd)
        if probe:
            with contextlib.suppress(OSError):
                os.unlink(probe)
    return root


# The store's own temporary names (`_create_temp`: ".tmp-" + 8 hex digits + ".part"; mkstemp's 8 of [a-z0-9_]
# before it; and the probe of `prepare_collection`): a writer killed (kill -9, power loss) before its rename leaves them behind.
_TEMP_NAME = re.compile(r"\.tmp-(?:[a-z0-9_]{8}\.part|probe-[a-z0-9_]{8})")


def remove_stale_temp(root: Path | str) -> list[Path]:
    """Remove the temporary files killed writers left in collection `root`: in its folder and in each host
    folder, only regular files with the store's own temporary names, never through a symbolic link. Returns
    what it removed. Only for the holder of the collection's lock (`iospki.state.lock`, which calls it): no
    live writer has a temporary file there then. Readers skip these files (dot names) without this."""
    removed: list[Path] = []

    def sweep(d: str) -> None:
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:  # gone, or not ours to list: nothing to clean there
            return
        for e in entries:
            if _TEMP_NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False):
                try:
                    os.unlink(e.path)
                except OSError:  # gone already, or not ours to remove: the writer that comes next is not stopped
                    continue
                removed.append(Path(e.path))
            elif d == top and not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
                sweep(e.path)

    top = str(root)
    sweep(top)
    return removed


def atomic_write_text(path: Path | str, text: str, mode: int | None = None) -> Path:
    """Write `text` to `path` atomically: temp file in the same directory, fsync, os.replace.

    The file is private (0600) unless `mode` is given. Inside `durable_batch()` the write is staged and
    becomes visible when the batch ends. Any failure is a WriteFailed and leaves no temporary file and
    no partial file under the final name."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(path: Path | str, data: bytes, mode: int | None = None) -> Path:
    """`atomic_write_text` for bytes (pictures)."""
    path = Path(path)
    batch = _BATCH.get()
    if batch is None or path.parent not in batch.checked:
        make_dirs(path.parent)
    _write(str(path.parent), path.name, data, mode)
    return path


# mkstemp's flags (no following a link planted under the name; not inherited by child processes)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_CREATE |= getattr(os, "O_BINARY", 0)


def _write(folder: str, name: str, data: bytes, mode: int | None = None) -> str:
    """The atomic write of `folder/name` (`folder` exists); the final path. A temporary file of the store's own
    name pattern (`_TEMP_NAME`), made with mkstemp's flags but without its file object: a collect writes two
    dozen small files per host, and mkstemp + fdopen were a sixth of the store's CPU."""
    path = os.path.join(folder, name)
    batch = _BATCH.get()
    tmp = ""
    try:
        fd, tmp = _create_temp(folder)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if batch is None:
                os.fsync(fd)
        finally:
            os.close(fd)
        if batch is not None:
            batch.staged.append((tmp, path))
            return path
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _refused(Path(path), exc) from None
        raise
    _fsync_dir(folder)
    return path


def _create_temp(folder: str) -> tuple[int, str]:
    """A new file `.tmp-<8 random hex digits>.part` in `folder`, private (0600): (descriptor, path)."""
    for _ in range(100):
        tmp = os.path.join(folder, f".tmp-{os.urandom(4).hex()}.part")
        try:
            return os.open(tmp, _CREATE, 0o600), tmp
        except FileExistsError:  # another writer's (or a killed writer's) temporary file: draw again
            continue
    raise FileExistsError(errno.EEXIST, "no usable temporary file name", folder)


@dataclass
class _Batch:
    """What the current thread's `durable_batch()` holds."""

    staged: list[tuple[str, str]] = field(default_factory=list)  # (temporary file, final path)
    # Host folders `host_dir(create=True)` made and checked in this batch: a host's two dozen writes check its
    # folder once (the checks were a third of collect's own CPU per host), at the batch's first write there.
    checked: set[Path] = field(default_factory=set)
    folders: dict[tuple[str, str], str] = field(default_factory=dict)  # (root, host) -> its checked folder


_BATCH: ContextVar[_Batch | None] = ContextVar("iospki_store_batch", default=None)


@contextlib.contextmanager
def durable_batch() -> Iterator[None]:
    """Stage every write of this thread (e.g. one host's outputs) and make them durable together.

    Same guarantee as one write at a time -- a visible name always holds its complete data -- with one data
    flush and one directory fsync per folder instead of two fsyncs per file (those were 56 % of `collect`):
    the temporary files are written, their data is flushed (one syncfs of the filesystem on Linux, else an
    fsync per file), then renamed into place, then each directory is fsynced once so the renames last.
    Staged files are committed also when the block raises: what was read before a failure is kept, as
    without a batch. Nested batches join the outer one.

        >>> import tempfile; d = Path(tempfile.mkdtemp())
        >>> with durable_batch():
        ...     _ = write_output(d, "r1", "show clock", "10:00")
        ...     (d / "r1" / "show_clock.txt").exists()
        False
        >>> read_output(d, "r1", "show clock")
        '10:00'
    """
    if _BATCH.get() is not None:
        yield
        return
    batch = _Batch()
    token = _BATCH.set(batch)
    try:
        yield
    finally:
        _BATCH.reset(token)
        _commit(batch.staged)


def _commit(staged: list[tuple[str, str]]) -> None:
    if not staged:
        return
    try:
        _commit_staged(staged)
    except OSError as exc:
        # e.g. a full disk: what was not renamed into place goes, no temporary file stays behind
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise _refused(Path(staged[0][1]).parent, exc) from None


def _commit_staged(staged: list[tuple[str, str]]) -> None:
    dirs = list(dict.fromkeys(os.path.dirname(path) for _, path in staged))
    if not all(_syncfs(d) for d in dict((os.stat(d).st_dev, d) for d in dirs).values()):
        for tmp, _ in staged:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for tmp, path in staged:
        os.replace(tmp, path)
    for d in dirs:
        _fsync_dir(d)


def _syncfs(d: Path | str) -> bool:
    """Flush every dirty page of the filesystem holding `d` (Linux syncfs(2)); False where unavailable."""
    fn = getattr(_libc(), "syncfs", None)
    if fn is None:
        return False
    fd = os.open(d, os.O_RDONLY)
    try:
        return bool(fn(fd) == 0)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _fsync_dir(d: Path | str) -> None:
    # The rename is durable only once the directory entry is flushed too.
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


_INF = float("inf")


def pretty_json(obj: Any) -> str:
    """`json.dumps(obj, indent=2, sort_keys=True, default=_json_default)`, the same text (a circular reference
    is a RecursionError here, a ValueError there), about three times faster: json.dumps uses its C encoder only
    without `indent`, and its Python encoder runs a generator per list and dict."""
    out: list[str] = []
    add = out.append

    def enc(o: Any, pad: str) -> None:  # the order of json.encoder's tests: str subclasses are strings, etc.
        if isinstance(o, str):
            add(_quote(o))
        elif o is None:
            add("null")
        elif o is True:
            add("true")
        elif o is False:
            add("false")
        elif isinstance(o, int):
            add(int.__repr__(o))
        elif isinstance(o, float):
            add(_float_text(o))
        elif isinstance(o, (list, tuple)):
            if not o:
                add("[]")
                return
            inner = pad + "  "
            sep = "[" + inner
            for v in o:
                add(sep)
                enc(v, inner)
                sep = "," + inner
            add(pad + "]")
        elif isinstance(o, dict):
            if not o:
                add("{}")
                return
            inner = pad + "  "
            sep = "{" + inner
            for k, v in sorted(o.items()):
                add(sep)
                add(_quote(_key_text(k)))
                add(": ")
                enc(v, inner)
                sep = "," + inner
            add(pad + "}")
        else:
            enc(_json_default(o), pad)

    enc(obj, "\n")
    return "".join(out)


def _float_text(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _key_text(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, float):
        return _float_text(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return int.__repr__(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")


# --------------------------------------------------------------------------- write


def _folder(root: Path | str, host: str) -> str:
    """`host_dir(root, host, create=True)`; inside a batch, what its first write there found."""
    batch = _BATCH.get()
    if batch is None:
        return str(host_dir(root, host, create=True))
    key = (os.fspath(root), host)
    d = batch.folders.get(key)
    if d is None:
        d = batch.folders[key] = str(host_dir(root, host, create=True))
    return d


def write_output(
    root: Path | str, host: str, command: str, text: str, secrets: Iterable[str] = (), *, redacted: bool = False
) -> Path:
    """Store the output of `command` on `host` (redacted) and return its path. `redacted`: `text` is
    `redact(text, secrets)` already (collect parses what it stores, so it redacts each output once)."""
    if not redacted:
        text = redact(text, secrets)
    return Path(_write(_folder(root, host), command_filename(command), text.encode("utf-8")))


def write_json(root: Path | str, host: str, name: str, obj: Any, secrets: Iterable[str] = ()) -> Path:
    """Store `obj` as `DIR/<host>/<name>.json` (pydantic models and datetimes allowed)."""
    if name.endswith(".json"):
        name = name[:-5]
    if not _NAME_OK.match(name):
        raise StoreError(f"host {host}: {name!r} is not a usable JSON file name")
    text = redact(pretty_json(obj) + "\n", secrets)
    return Path(_write(_folder(root, host), f"{name}.json", text.encode("utf-8")))


def write_error(root: Path | str, host: str, error_text: str, secrets: Iterable[str] = ()) -> Path:
    """Record that `host` failed (unreachable, authentication, timeout ...) and why."""
    text = redact(error_text, secrets)
    return Path(_write(_folder(root, host), ERROR_FILE, (text if text.endswith("\n") else text + "\n").encode()))


def clear_error(root: Path | str, host: str) -> None:
    """Forget an earlier failure of `host` (a re-collection succeeded)."""
    with contextlib.suppress(FileNotFoundError):
        (_host_dir(root, host) / ERROR_FILE).unlink()


def write_meta(
    root: Path | str,
    hosts_ok: Iterable[str],
    hosts_failed: Iterable[str],
    *,
    started: datetime | None = None,
    finished: datetime | None = None,
    commands: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
    interrupted: bool = False,
) -> Path:
    """Write `DIR/meta.json`: collection time (UTC), iospki version, hosts ok/failed, commands.

    `interrupted`: the collection did not finish (`"interrupted": true`); `iospki collect` writes it before
    the first device is read and the finished collection replaces it, so a collection killed (even by
    kill -9) or stopped half-way stays marked, and an offline audit fails each of its hosts."""
    from iospki import __version__

    now = datetime.now(timezone.utc).replace(microsecond=0)
    meta: dict[str, Any] = {
        "schema": "iospki.collection/1",
        "iospki_version": __version__,
        "started": (started or now).isoformat(),
        "finished": (finished or now).isoformat(),
        "hosts_ok": sorted(set(hosts_ok)),
        "hosts_failed": sorted(set(hosts_failed)),
        "commands": list(commands),
    }
    if extra:
        meta.update(extra)
    if interrupted:
        meta[INTERRUPTED] = True
    make_dirs(root, PRIVATE_DIR_MODE)
    return atomic_write_text(Path(root) / META_FILE, json.dumps(meta, indent=2, default=_json_default) + "\n")


# --------------------------------------------------------------------------- read


def hosts(root: Path | str) -> list[str]:
    """Host names in a collection (its sub-directories), sorted. Raises StoreError if `root` is no directory."""
    try:
        # scandir: the entry type comes with the listing (no stat per host folder but for symlinks)
        with os.scandir(root) as it:
            return sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
    except (NotADirectoryError, FileNotFoundError):
        raise StoreError(f"{root}: not a collection directory") from None


@dataclass
class HostFiles:
    """What one host folder holds, read in one listing (`read_host`)."""

    error: str | None  # `_error.txt`: why the host failed, None when it did not
    outputs: dict[str, str]  # command -> stored output
    json: list[Path]  # the JSON files (facts, read times ...), sorted by name; no parsed copies of outputs


# a host folder is opened once and its files relative to it: one path component to resolve per file
# instead of the whole path (half the cost of reading the small files of a collection); O_NOFOLLOW with
# O_DIRECTORY opens a real folder only (a symbolic link or a file fails with ENOTDIR)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _read_dir(root: Path | str, host: str) -> int:
    """`root/host` opened for reading (a descriptor the caller closes), checked as `host_dir` does with the
    open itself instead of its four path walks: the name is one safe component (no '/', no leading dot), so a
    folder that is no symbolic link lies directly in `root`. StoreError: a bad name, a symbolic link or no
    such host."""
    problem = host_name_problem(host)
    if problem:
        raise StoreError(f"host {host!r}: not usable as a folder name: {problem}")
    d = os.path.join(root, host)
    try:
        return os.open(d, _DIR_FLAGS)
    except FileNotFoundError:
        raise StoreError(f"host {host}: no such host in {root}") from None
    except NotADirectoryError:
        base = Path(root)
        if (base / host).is_symlink():  # the error path only: tell a link from a file
            raise StoreError(
                f"host {host}: {base / host} is a symbolic link (refused: it could point outside {base})"
            ) from None
        raise StoreError(f"host {host}: no such host in {root}") from None


def read_bytes(name: Path | str, dir_fd: int | None = None) -> bytes:
    """A stored file's bytes through os.read (a third of the cost of `Path.read_bytes` for the small files
    of a collection). `name` is relative to the open folder `dir_fd` when given."""
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    try:
        chunks = [os.read(fd, 1 << 16)]
        # until read says end of file: a short read alone does not say it on every file system
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 2 else b"".join(chunks)


def _text(name: str, dir_fd: int | None = None) -> str:
    """A stored text as `open(path, encoding="utf-8", errors="replace").read()` gives it (universal
    newlines included)."""
    text = read_bytes(name, dir_fd).decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_host(root: Path | str, host: str) -> HostFiles:
    """Everything stored for `host` in one folder listing: the loader's one read per host
    (`read_error`, `read_outputs` and the JSON files, without a stat per file).

    The JSON copies `collect` writes of what it parsed (`<command>.json` beside `<command>.txt`, and
    `parse_errors.json`) are left out: the loader parses the outputs themselves and reads nothing from
    those copies (no model has a facts key), and reading them cost more than the whole rest of a host."""
    fd = _read_dir(root, host)
    error: str | None = None
    outputs: dict[str, str] = {}
    jsons: list[str] = []
    stems: set[str] = set()
    try:
        with os.scandir(fd) as it:
            names = sorted([e.name for e in it if e.is_file()])
        for name in names:
            if name == ERROR_FILE:
                error = _text(name, fd).rstrip("\n")
            elif name.endswith(".txt") and not name.startswith(("_", ".")):
                # `filename_command` without its path handling for the usual name (nothing escaped)
                command = name[:-4].replace("_", " ") if "%" not in name else filename_command(name)
                outputs[command] = _text(name, fd)
                stems.add(name[:-4])
            elif name.endswith(".json"):
                jsons.append(name)
    finally:
        os.close(fd)
    stems.add(PARSE_ERRORS)
    stems.difference_update((READ_TIMES, FACTS))  # never taken for a copy, whatever the outputs are called
    # read by the caller, which reports an unreadable one
    return HostFiles(error, outputs, [Path(root, host, n) for n in jsons if n[:-5] not in stems])


def read_outputs(root: Path | str, host: str) -> dict[str, str]:
    """{command: text} for every stored output of `host` (errors and JSON files excluded)."""
    return read_host(root, host).outputs


def read_output(root: Path | str, host: str, command: str) -> str | None:
    """The stored output of one command, or None when it was not collected."""
    p = _host_dir(root, host) / command_filename(command)
    return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else None


def read_json(root: Path | str, host: str, name: str) -> Any:
    """A JSON file written by `write_json`, or None when absent."""
    if name.endswith(".json"):
        name = name[:-5]
    p = _host_dir(root, host) / f"{name}.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


def read_error(root: Path | str, host: str) -> str | None:
    """Why `host` failed, or None when it did not."""
    p = _host_dir(root, host) / ERROR_FILE
    return p.read_text(encoding="utf-8", errors="replace").rstrip("\n") if p.is_file() else None


def read_meta(root: Path | str) -> dict[str, Any] | None:
    """The collection's meta.json, or None when absent."""
    p = Path(root) / META_FILE
    if not p.is_file():
        return None
    data = json.loads(p.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None
