"""queuefile.py: a reader of postern's queue file format, version 1 (docs/QUEUE_FORMAT.md).

Written from the format description alone, independently of the C++ reader (lib/queue_*),
so the integration tests cross-check both: read(path) returns a QueueFile with the schedule,
the envelope, the recipients with their status slots and the content, byte for byte, and
raises QueueFileError for anything that is not a complete, well-formed file.
"""
import dataclasses
import struct

MAGIC = b"POSTERNQ"
VERSION = 1
STATUS_SLOT = 324
MAX_FIELD = 4096
ENVELOPE_STRINGS = {b"F": "sender", b"I": "envid", b"N": "client_hostname", b"A": "client_address",
                    b"H": "helo", b"T": "tls"}
RET_NAMES = {0: "", 1: "FULL", 2: "HDRS"}
BODY_NAMES = {0: "", 1: "7BIT", 2: "8BITMIME", 3: "BINARYMIME"}
PROTOCOL_NAMES = {1: "SMTP", 2: "ESMTP", 3: "ESMTPS"}
STATES = {"P": "pending", "T": "deferred", "D": "delivered", "F": "failed", "B": "bounced"}


class QueueFileError(ValueError):
    """The bytes are not a complete, well-formed queue file."""


@dataclasses.dataclass
class Recipient:
    address: str
    orcpt: str
    notify: int  # 0 unset, 8 NEVER, else a mix of 1 SUCCESS, 2 FAILURE, 4 DELAY
    state: str  # "pending", "deferred", ...
    dsn: str
    last_attempt_us: int
    reason: str


@dataclasses.dataclass
class QueueFile:
    version: int
    next_attempt_us: int
    attempts: int
    flags: int
    arrival_us: int
    size: int
    ret: str
    body: str
    smtputf8: bool
    protocol: str
    sender: str
    envid: str
    client_hostname: str
    client_address: str
    helo: str
    tls: str
    recipients: list
    content: bytes

    def header(self, name):
        """The unfolded values of header NAME (case-insensitive) in the content's header section."""
        values, current = [], None
        head = self.content.split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            if line[:1] in (b" ", b"\t") and current is not None:
                values[current] += b" " + line.strip()
                continue
            field, colon, value = line.partition(b":")
            current = None
            if colon and field.strip().lower() == name.lower().encode():
                values.append(value.strip())
                current = len(values) - 1
        return [v.decode("utf-8", "replace") for v in values]

    def body_bytes(self):
        """The content after the header section's empty line."""
        return self.content.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.content else b""


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, count, what):
        if count > len(self.data) - self.pos:
            raise QueueFileError(f"truncated in {what} at offset {self.pos}")
        piece = self.data[self.pos:self.pos + count]
        self.pos += count
        return piece

    def unpack(self, fmt, what):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def _text(raw, what):
    if len(raw) > MAX_FIELD:
        raise QueueFileError(f"{what} longer than {MAX_FIELD} bytes")
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise QueueFileError(f"control character in {what}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise QueueFileError(f"{what} is not UTF-8") from e


def _status_slot(slot):
    state, reserved, reason_length = struct.unpack(">ccH", slot[:4])
    code = slot[4:16].rstrip(b"\0")
    (last_attempt,) = struct.unpack(">q", slot[16:24])
    reason_area = slot[24:]
    if state.decode("ascii", "replace") not in STATES or reserved != b"\0" or reason_length > 300:
        raise QueueFileError("bad recipient status slot")
    if any(reason_area[reason_length:]) or b"\0" in slot[4:16].rstrip(b"\0"):
        raise QueueFileError("non-zero padding in a status slot")
    return STATES[state.decode()], code.decode("ascii"), last_attempt, reason_area[:reason_length].decode("utf-8")


def _recipient(payload):
    reader = _Reader(payload)
    state, dsn, last_attempt, reason = _status_slot(reader.take(STATUS_SLOT, "status slot"))
    (notify,) = reader.unpack(">B", "notify")
    (length,) = reader.unpack(">H", "address length")
    address = _text(reader.take(length, "address"), "recipient address")
    (length,) = reader.unpack(">H", "orcpt length")
    orcpt = _text(reader.take(length, "orcpt"), "ORCPT")
    if reader.pos != len(payload):
        raise QueueFileError("recipient lengths do not add up")
    if notify not in (0, 8) and (notify & ~7):
        raise QueueFileError(f"bad NOTIFY {notify}")
    return Recipient(address, orcpt, notify, state, dsn, last_attempt, reason)


def parse(data):
    """Parses the bytes of a queue file; raises QueueFileError."""
    reader = _Reader(data)
    if reader.take(8, "magic") != MAGIC:
        raise QueueFileError("bad magic")
    (version,) = reader.unpack(">I", "version")
    if version != VERSION:
        raise QueueFileError(f"unsupported version {version}")
    fields, recipients, content, stage = {}, [], None, "schedule"
    while True:
        rtype, length = reader.unpack(">cI", "record header")
        payload = reader.take(length, f"record {rtype!r}")
        if stage == "schedule":
            if rtype != b"S" or length != 16:
                raise QueueFileError("the schedule record must come first")
            fields["next_attempt_us"], fields["attempts"], fields["flags"] = struct.unpack(">qII", payload)
            stage = "envelope"
        elif rtype == b"M" and stage == "envelope" and "arrival_us" not in fields:
            if length != 20:
                raise QueueFileError("envelope record of the wrong size")
            arrival, size, ret, body, utf8, protocol = struct.unpack(">qQBBBB", payload)
            if ret not in RET_NAMES or body not in BODY_NAMES or utf8 > 1 or protocol not in PROTOCOL_NAMES:
                raise QueueFileError("bad envelope scalars")
            fields.update(arrival_us=arrival, size=size, ret=RET_NAMES[ret], body=BODY_NAMES[body],
                          smtputf8=bool(utf8), protocol=PROTOCOL_NAMES[protocol])
        elif rtype in ENVELOPE_STRINGS and stage == "envelope" and ENVELOPE_STRINGS[rtype] not in fields:
            fields[ENVELOPE_STRINGS[rtype]] = _text(payload, ENVELOPE_STRINGS[rtype])
        elif rtype == b"R" and stage in ("envelope", "recipients"):
            if stage == "envelope" and len(fields) != 3 + 6 + len(ENVELOPE_STRINGS):
                raise QueueFileError("a recipient before the whole envelope")
            stage = "recipients"
            recipients.append(_recipient(payload))
        elif rtype == b"C" and stage == "recipients":
            content, stage = payload, "content"
        elif rtype == b"E" and stage == "content":
            if length != 0:
                raise QueueFileError("end record with a payload")
            if reader.pos != len(data):
                raise QueueFileError(f"{len(data) - reader.pos} bytes after the end record")
            break
        else:
            raise QueueFileError(f"record {rtype!r} out of place (after {stage})")
    if fields["size"] != len(content):
        raise QueueFileError("message size differs from the content length")
    return QueueFile(version=version, recipients=recipients, content=content, **fields)


def read(path):
    """Reads and parses the queue file at path."""
    with open(path, "rb") as f:
        return parse(f.read())
