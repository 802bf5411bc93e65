"""queuewriter.py: writes postern queue files (docs/QUEUE_FORMAT.md, version 1) from Python,
so tests can hand a delivery worker (or qmgr) a message without smtpd.

write_queue_file(folder, content, recipients, ...) writes FOLDER/ID atomically and returns a
QueuedFile with the ID, the path and where the content is (offset, length), as qmgr would
put them in a delivery request.
"""
import os
import struct
import time
from dataclasses import dataclass

MAGIC = b"POSTERNQ"
VERSION = 1
SLOT_BYTES = 324
RET = {"": 0, "FULL": 1, "HDRS": 2}
BODY = {"": 0, "7BIT": 1, "8BITMIME": 2, "BINARYMIME": 3}
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_counter = 0


@dataclass
class QueuedFile:
    queue_id: str
    path: str
    content_offset: int
    content_length: int
    arrival_us: int


def _base62(number, digits):
    text = ""
    for _ in range(digits):
        number, digit = divmod(number, 62)
        text = _ALPHABET[digit] + text
    return text


def new_queue_id(micros=None):
    """A queue ID as lib/queue_id makes them: 10 digits of µs, 4 of the pid, 3 of a counter."""
    global _counter
    _counter += 1
    micros = micros if micros is not None else int(time.time() * 1_000_000)
    return _base62(micros, 10) + _base62(os.getpid(), 4) + _base62(_counter, 3)


def _record(kind, payload):
    return struct.pack(">BI", ord(kind), len(payload)) + payload


def _text(value):
    return value.encode() if isinstance(value, str) else bytes(value)


def _recipient(address, orcpt=b"", notify=0):
    slot = b"P" + b"\0" + struct.pack(">H", 0) + b"\0" * 12 + struct.pack(">q", 0) + b"\0" * 300
    assert len(slot) == SLOT_BYTES
    address, orcpt = _text(address), _text(orcpt)
    return slot + struct.pack(">BH", notify, len(address)) + address + struct.pack(">H", len(orcpt)) + orcpt


def encode_queue_file(content, recipients, *, sender="sender@example.test", arrival_us, envid="", ret="",
                      body="", smtputf8=False):
    """(file bytes, content offset). recipients: addresses or dicts (address, orcpt, notify)."""
    content = _text(content)
    out = bytearray(MAGIC + struct.pack(">I", VERSION))
    out += _record("S", struct.pack(">qII", 0, 0, 0))
    out += _record("M", struct.pack(">qQBBBB", arrival_us, len(content), RET[ret], BODY[body], int(smtputf8), 2))
    for kind, value in (("F", sender), ("I", envid), ("N", "localhost"), ("A", "127.0.0.1"),
                        ("H", "client.test"), ("T", "")):
        out += _record(kind, _text(value))
    for rcpt in recipients:
        rcpt = rcpt if isinstance(rcpt, dict) else {"address": rcpt}
        out += _record("R", _recipient(rcpt["address"], rcpt.get("orcpt", ""), rcpt.get("notify", 0)))
    content_offset = len(out) + 5
    out += _record("C", content)
    out += _record("E", b"")
    return bytes(out), content_offset


def write_queue_file(folder, content, recipients, **envelope):
    """Writes a queue file into FOLDER (e.g. QUEUE/active) under a new ID; returns a QueuedFile."""
    arrival = envelope.pop("arrival_us", None) or int(time.time() * 1_000_000)
    queue_id = envelope.pop("queue_id", None) or new_queue_id(arrival)
    data, offset = encode_queue_file(content, recipients, arrival_us=arrival, **envelope)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, queue_id)
    temporary = os.path.join(folder, ".tmp-" + queue_id)
    with open(temporary, "wb") as f:
        f.write(data)
    os.chmod(temporary, 0o600)
    os.rename(temporary, path)
    return QueuedFile(queue_id, path, offset, len(_text(content)), arrival)
