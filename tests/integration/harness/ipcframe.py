"""ipcframe.py: lib/ipc frames (docs/IPC.md) from Python, so tests can play a postern process.

encode(protocol, version, attrs) builds one frame from (name, value) pairs (values: bytes,
str, int or bool, sent as docs/IPC.md says); FrameReader cuts a byte stream into
(protocol, version, {name: bytes}) tuples and refuses what lib/ipc refuses. The delivery
protocol (docs/PROTOCOLS.md, qmgr -> smtp worker) has helpers: delivery_request() builds
the request frame, DeliveryConnection sends it over private/smtp and reads the replies.
"""
import socket
import struct
import time

MAGIC = b"PSTN"
HEADER = struct.Struct(">4sI")
MAX_FRAME = 4 * 1024 * 1024


class FrameError(Exception):
    """A frame lib/ipc would refuse."""


def _value_bytes(value):
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def encode(protocol, version, attrs):
    """One frame: protocol name, u16 version, then the (name, value) pairs in order."""
    name = protocol.encode()
    body = bytearray(struct.pack(">B", len(name)) + name + struct.pack(">HI", version, len(attrs)))
    seen = set()
    for key, value in attrs:
        if key in seen:
            raise FrameError(f"repeated attribute {key}")
        seen.add(key)
        key_bytes, value_bytes = key.encode(), _value_bytes(value)
        body += struct.pack(">B", len(key_bytes)) + key_bytes + struct.pack(">I", len(value_bytes)) + value_bytes
    return HEADER.pack(MAGIC, len(body)) + bytes(body)


def decode_body(body):
    """(protocol, version, {name: value bytes}) of one frame body; FrameError when malformed."""
    try:
        plen = body[0]
        protocol = body[1:1 + plen].decode("ascii")
        offset = 1 + plen
        version, count = struct.unpack_from(">HI", body, offset)
        offset += 6
        attrs = {}
        for _ in range(count):
            nlen = body[offset]
            key = body[offset + 1:offset + 1 + nlen].decode("ascii")
            offset += 1 + nlen
            (vlen,) = struct.unpack_from(">I", body, offset)
            offset += 4
            value = body[offset:offset + vlen]
            if len(value) != vlen or key in attrs:
                raise FrameError("truncated value or repeated name")
            attrs[key] = bytes(value)
            offset += vlen
    except (IndexError, struct.error, UnicodeDecodeError) as error:
        raise FrameError(f"malformed frame body: {error}") from error
    if offset != len(body):
        raise FrameError(f"{len(body) - offset} bytes after the last attribute")
    return protocol, version, attrs


class FrameReader:
    """Cuts a byte stream into frames: feed(bytes), then next() until it returns None."""

    def __init__(self, max_frame=MAX_FRAME):
        self.buffer = b""
        self.max_frame = max_frame

    def feed(self, data):
        self.buffer += data

    def next(self):
        if len(self.buffer) < HEADER.size:
            return None
        magic, length = HEADER.unpack_from(self.buffer)
        if magic != MAGIC or HEADER.size + length > self.max_frame:
            raise FrameError(f"bad frame header {self.buffer[:8]!r}")
        if len(self.buffer) < HEADER.size + length:
            return None
        body = self.buffer[HEADER.size:HEADER.size + length]
        self.buffer = self.buffer[HEADER.size + length:]
        return decode_body(body)


# ---- the delivery protocol (qmgr -> smtp worker) ----------------------------------------

def delivery_request(*, request_id, queue_id, content_offset, content_length, recipients, nexthop,
                     domain, sender="sender@example.test", arrival_us=None, active_us=None, envid="",
                     ret="", body_type="", smtputf8=False, tls_level="none", tls_match=(), tls_ca_file="",
                     tls_cert_file="", tls_key_file="", tls_ca_path="", queue_file=None):
    """The request frame. recipients: addresses, or dicts with address/orcpt/notify/index."""
    now = int(time.time() * 1_000_000)
    attrs = [
        ("type", "request"), ("request_id", request_id), ("queue_id", queue_id),
        ("queue_file", queue_file if queue_file is not None else f"active/{queue_id}"),
        ("content_offset", content_offset), ("content_length", content_length),
        ("arrival_us", arrival_us if arrival_us is not None else now),
        ("active_us", active_us if active_us is not None else now),
        ("sender", sender), ("envid", envid), ("ret", ret), ("body_type", body_type), ("smtputf8", smtputf8),
        ("nexthop", nexthop), ("domain", domain), ("tls_level", tls_level), ("tls_match", " ".join(tls_match)),
        ("tls_ca_file", tls_ca_file), ("tls_cert_file", tls_cert_file), ("tls_key_file", tls_key_file),
    ]
    if tls_ca_path:  # optional: sent only when set
        attrs.append(("tls_ca_path", tls_ca_path))
    attrs.append(("rcpt_count", len(recipients)))
    for i, rcpt in enumerate(recipients):
        rcpt = rcpt if isinstance(rcpt, dict) else {"address": rcpt}
        attrs += [(f"rcpt.{i}.index", rcpt.get("index", i)), (f"rcpt.{i}.address", rcpt["address"]),
                  (f"rcpt.{i}.orcpt", rcpt.get("orcpt", "")), (f"rcpt.{i}.notify", rcpt.get("notify", 0))]
    return encode("delivery", 1, attrs)


class DeliveryConnection:
    """One delivery over private/smtp: send(frame), then results() reads the `rcpt` frames
    up to `done` (or the worker hanging up) and returns them with `done` (True/False)."""

    def __init__(self, socket_path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(socket_path)
        self.reader = FrameReader()

    def send(self, frame):
        self.sock.sendall(frame)

    def results(self):
        """([{status, dsn, reply, relay, index, request_id}], done_seen); closes the socket."""
        rcpts, done = [], False
        try:
            while not done:
                frame = self.reader.next()
                if frame is None:
                    data = self.sock.recv(65536)
                    if not data:
                        break
                    self.reader.feed(data)
                    continue
                protocol, version, attrs = frame
                if (protocol, version) != ("delivery", 1):
                    raise FrameError(f"unexpected protocol {protocol} v{version}")
                kind = attrs.get("type")
                if kind == b"done":
                    done = True
                elif kind == b"rcpt":
                    rcpts.append({k: v.decode("utf-8", "surrogateescape") for k, v in attrs.items()})
                else:
                    raise FrameError(f"unexpected reply type {kind!r}")
        finally:
            self.sock.close()
        return rcpts, done
