"""What launcher and daemon say to each other over the daemon's unix socket.

The launcher sends one *launch request*: a length-prefixed frame of length-prefixed byte strings
(key, working directory, umask, signals it ignores, argv, environment), with four open file
descriptors attached as ``SCM_RIGHTS`` (its stdin, stdout, stderr, and one end of a socket pair
that links it directly to the provider child). Bytes rather than JSON keep environment values that
are not UTF-8 exact, and keep ``json``/``re`` out of the launcher's imports.

Works on ``_socket.socket`` (of which ``socket.socket`` is a subclass): the launcher imports
``_socket`` rather than ``socket``, whose enum conversions and ``selectors`` cost milliseconds.

After that both sides exchange fixed 8-byte *messages* (kind, 32-bit value): the daemon reports
the child's pid, then how it ended, or a refusal; the launcher asks the daemon to signal the child.
"""

from __future__ import annotations

import _socket
import array
import os
import struct
from collections.abc import Sequence

MAGIC = b"tfprovider-forkserver/1"
PASSED_FDS = 4
"""stdin, stdout, stderr, and the child's end of the launcher's ready/go socket pair."""
MAX_REQUEST_BYTES = 8 * 1024 * 1024

# Messages: kind byte, three pad bytes, signed 32-bit value, network order.
_MESSAGE = struct.Struct("!Bxxxi")
MESSAGE_SIZE = _MESSAGE.size
STARTED = 1  # value: the child's pid
EXITED = 2  # value: the child's exit code
KILLED = 3  # value: the signal that ended the child
REFUSED = 4  # value: one of the REASON_* codes
SIGNAL = 5  # launcher -> daemon; value: the signal to deliver to the child

REASON_WRONG_INSTALLATION = 1
REASON_NOT_SINGLE_THREADED = 2
REASON_FORK_FAILED = 3
REASON_BAD_REQUEST = 4
REASONS = {
    REASON_WRONG_INSTALLATION: "the daemon serves a different installation",
    REASON_NOT_SINGLE_THREADED: "the daemon is not single-threaded, so it must not fork",
    REASON_FORK_FAILED: "the daemon could not fork",
    REASON_BAD_REQUEST: "the daemon could not read the launch request",
}

# Child <-> launcher over the socket pair: the child says it is ready (working directory,
# environment and descriptors in place); the launcher answers "go", which commits the launch.
CHILD_READY = b"R"
LAUNCHER_GO = b"G"

_LENGTH = struct.Struct("!I")
_PEERCRED = struct.Struct("3i")


class ProtocolError(Exception):
    """The other side sent something this version does not understand (or went away mid-way)."""


class LaunchRequest:
    """What a launch needs to become the provider process Terraform started."""

    __slots__ = ("argv", "cwd", "environ", "ignored_signals", "key", "umask")

    def __init__(
        self,
        key: bytes,
        cwd: bytes,
        umask: int,
        ignored_signals: Sequence[int],
        argv: Sequence[bytes],
        environ: Sequence[tuple[bytes, bytes]],
    ) -> None:
        self.key = key
        self.cwd = cwd
        self.umask = umask
        self.ignored_signals = tuple(ignored_signals)
        self.argv = tuple(argv)
        self.environ = tuple(environ)

    def encode(self) -> bytes:
        fields = [
            MAGIC,
            self.key,
            self.cwd,
            b"%d" % self.umask,
            b",".join(b"%d" % number for number in self.ignored_signals),
            b"%d" % len(self.argv),
            *self.argv,
            *(name + b"=" + value for name, value in self.environ),
        ]
        body = b"".join(_LENGTH.pack(len(field)) + field for field in fields)
        return _LENGTH.pack(len(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> LaunchRequest:
        fields = _split(body)
        if len(fields) < 6 or fields[0] != MAGIC:
            raise ProtocolError("not a launch request of this version")
        try:
            umask = int(fields[3])
            ignored = [int(item) for item in fields[4].split(b",") if item]
            argc = int(fields[5])
        except ValueError as exc:
            raise ProtocolError(f"malformed launch request: {exc}") from None
        if not 0 <= argc <= len(fields) - 6:
            raise ProtocolError("malformed launch request: bad argument count")
        argv = fields[6 : 6 + argc]
        environ = []
        for item in fields[6 + argc :]:
            name, equals, value = item.partition(b"=")
            if not equals or not name:
                raise ProtocolError("malformed launch request: bad environment entry")
            environ.append((name, value))
        return cls(fields[1], fields[2], umask, ignored, argv, environ)


def _split(body: bytes) -> list[bytes]:
    fields: list[bytes] = []
    offset = 0
    while offset < len(body):
        if offset + _LENGTH.size > len(body):
            raise ProtocolError("truncated field length")
        (length,) = _LENGTH.unpack_from(body, offset)
        offset += _LENGTH.size
        if offset + length > len(body):
            raise ProtocolError("truncated field")
        fields.append(body[offset : offset + length])
        offset += length
    return fields


def send_request(sock: _socket.socket, request: LaunchRequest, fds: Sequence[int]) -> None:
    """Send ``request`` with ``fds`` attached to its first byte."""
    data = request.encode()
    rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds))]
    sent = sock.sendmsg([data], rights)
    if sent < len(data):
        sock.sendall(data[sent:])


def receive_request(sock: _socket.socket) -> tuple[LaunchRequest, list[int]]:
    """Read one launch request and the descriptors that came with it.

    The descriptors are returned even when the request is then found malformed (the caller must
    close them); a request without exactly :data:`PASSED_FDS` descriptors is refused here, after
    closing whatever did arrive.
    """
    fds: list[int] = []
    header = b""
    try:
        while len(header) < _LENGTH.size:
            data, more_fds, flags = _receive_with_fds(sock, _LENGTH.size - len(header), PASSED_FDS + 1)
            fds.extend(more_fds)
            if flags & _socket.MSG_CTRUNC:
                raise ProtocolError("too many descriptors attached")
            if not data:
                raise ProtocolError("connection closed before the request")
            header += data
        (length,) = _LENGTH.unpack(header)
        if length > MAX_REQUEST_BYTES:
            raise ProtocolError(f"request of {length} bytes is too large")
        if len(fds) != PASSED_FDS:
            raise ProtocolError(f"expected {PASSED_FDS} descriptors, got {len(fds)}")
        request = LaunchRequest.decode(receive_exactly(sock, length))
    except BaseException:
        close_all(fds)
        raise
    return request, fds


def _receive_with_fds(sock: _socket.socket, size: int, max_fds: int) -> tuple[bytes, list[int], int]:
    fds = array.array("i")
    data, ancillary, flags, _ = sock.recvmsg(size, _socket.CMSG_LEN(max_fds * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return data, list(fds), flags


def receive_exactly(sock: _socket.socket, size: int) -> bytes:
    """``size`` bytes from ``sock``; :class:`ProtocolError` if it closes first."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("connection closed mid-message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def pack_message(kind: int, value: int) -> bytes:
    return _MESSAGE.pack(kind, value)


def unpack_message(data: bytes) -> tuple[int, int]:
    kind, value = _MESSAGE.unpack(data)
    return int(kind), int(value)


def peer_ids(sock: _socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a connected unix socket (Linux)."""
    credentials = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, _PEERCRED.size)
    pid, uid, _gid = _PEERCRED.unpack(credentials)
    return pid, uid


def close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        try:  # noqa: SIM105 - contextlib is not loaded at start-up; the launcher imports this module
            os.close(fd)
        except OSError:
            pass


def close_from(first: int) -> None:
    """Close every descriptor numbered ``first`` or above (one ``close_range`` call on Linux)."""
    try:
        limit = os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        limit = -1
    os.closerange(first, max(limit, 65536))
