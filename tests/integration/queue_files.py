"""queue_files.py: writes postern queue files (format version 1, docs/QUEUE_FORMAT.md) and
IDs from Python, so integration tests can set up a known queue for the commands to read,
and speaks the qmgr-control frames of docs/IPC.md and docs/PROTOCOLS.md for a stand-in qmgr.

An independent writer on purpose: if it and lib/queue_* disagree about the format, the
commands' tests fail.
"""
import os
import struct

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
QUEUES = ("incoming", "active", "deferred", "hold", "corrupt")
SLOT_REASON = 300
NOTIFY = {"SUCCESS": 1, "FAILURE": 2, "DELAY": 4, "NEVER": 8}


def base62(value, digits):
    text = ""
    for _ in range(digits):
        text = ALPHABET[value % 62] + text
        value //= 62
    return text


def queue_id(micros, pid=4242, counter=0):
    """The 17-character ID for an arrival time in microseconds (lib/queue_id.h)."""
    return base62(micros, 10) + base62(pid, 4) + base62(counter, 3)


class Recipient:
    def __init__(self, address, state="P", dsn="", last_attempt=0, reason="", orcpt="", notify=0):
        self.address, self.state, self.dsn = address, state, dsn
        self.last_attempt, self.reason, self.orcpt, self.notify = last_attempt, reason, orcpt, notify

    def payload(self):
        reason = self.reason.encode()[:SLOT_REASON]
        slot = struct.pack(">BBH", ord(self.state), 0, len(reason))
        slot += self.dsn.encode().ljust(12, b"\0")
        slot += struct.pack(">q", self.last_attempt)
        slot += reason.ljust(SLOT_REASON, b"\0")
        address, orcpt = self.address.encode(), self.orcpt.encode()
        return (slot + struct.pack(">BH", self.notify, len(address)) + address
                + struct.pack(">H", len(orcpt)) + orcpt)


def record(kind, payload):
    return kind.encode() + struct.pack(">I", len(payload)) + payload


def encode_message(sender, recipients, content, arrival_micros, next_attempt=0, attempts=0,
                   client=("localhost", "127.0.0.1", "localhost"), envid=""):
    """The bytes of a complete queue file."""
    if isinstance(content, str):
        content = content.encode()
    out = b"POSTERNQ" + struct.pack(">I", 1)
    out += record("S", struct.pack(">qII", next_attempt, attempts, 0))
    out += record("M", struct.pack(">qQBBBB", arrival_micros, len(content), 0, 0, 0, 2))
    for kind, value in (("F", sender), ("I", envid), ("N", client[0]), ("A", client[1]),
                        ("H", client[2]), ("T", "")):
        out += record(kind, value.encode())
    for recipient in recipients:
        out += record("R", recipient.payload())
    out += record("C", content)
    out += record("E", b"")
    return out


def write_message(queue_directory, queue, message_id, data):
    """Puts a queue file in place the way the writer does (temporary name, rename)."""
    folder = os.path.join(queue_directory, queue)
    temporary = os.path.join(folder, ".tmp-" + message_id)
    with open(temporary, "wb") as f:
        f.write(data)
    os.chmod(temporary, 0o600)
    os.rename(temporary, os.path.join(folder, message_id))


def make_layout(queue_directory):
    """The queue folders with the modes postern gives them."""
    os.makedirs(queue_directory, exist_ok=True)
    for name in QUEUES + ("private",):
        os.makedirs(os.path.join(queue_directory, name), mode=0o700, exist_ok=True)
        os.chmod(os.path.join(queue_directory, name), 0o700)
    for name in ("public", "pid"):
        os.makedirs(os.path.join(queue_directory, name), mode=0o755, exist_ok=True)
        os.chmod(os.path.join(queue_directory, name), 0o755)


def where(queue_directory, message_id):
    """The queue holding the ID, or None."""
    for queue in QUEUES:
        if os.path.exists(os.path.join(queue_directory, queue, message_id)):
            return queue
    return None


def read_schedule(path):
    """(next attempt, attempts) of a queue file."""
    with open(path, "rb") as f:
        data = f.read(12 + 5 + 16)
    return struct.unpack(">qI", data[17:29])


def read_states(path):
    """The recipients' (state, reason) of a queue file, in order."""
    with open(path, "rb") as f:
        data = f.read()
    states, at = [], 12
    while at < len(data):
        kind, length = data[at:at + 1].decode(), struct.unpack(">I", data[at + 1:at + 5])[0]
        payload = data[at + 5:at + 5 + length]
        if kind == "R":
            reason_length = struct.unpack(">H", payload[2:4])[0]
            states.append((chr(payload[0]), payload[24:24 + reason_length].decode()))
        at += 5 + length
    return states


def encode_frame(protocol, version, attributes):
    """One lib/ipc frame."""
    body = struct.pack(">B", len(protocol)) + protocol.encode() + struct.pack(">HI", version,
                                                                                  len(attributes))
    for name, value in attributes:
        value = value.encode() if isinstance(value, str) else value
        body += struct.pack(">B", len(name)) + name.encode() + struct.pack(">I", len(value)) + value
    return b"PSTN" + struct.pack(">I", len(body)) + body


def decode_frame(data):
    """(protocol, version, [(name, value)], rest) of the first complete frame, or None."""
    if len(data) < 8:
        return None
    length = struct.unpack(">I", data[4:8])[0]
    if data[:4] != b"PSTN" or len(data) < 8 + length:
        return None
    body, rest = data[8:8 + length], data[8 + length:]
    plen = body[0]
    protocol = body[1:1 + plen].decode()
    version, count = struct.unpack(">HI", body[1 + plen:7 + plen])
    at, attributes = 7 + plen, []
    for _ in range(count):
        nlen = body[at]
        name = body[at + 1:at + 1 + nlen].decode()
        vlen = struct.unpack(">I", body[at + 1 + nlen:at + 5 + nlen])[0]
        attributes.append((name, body[at + 5 + nlen:at + 5 + nlen + vlen].decode()))
        at += 5 + nlen + vlen
    return protocol, version, attributes, rest


def control_reply(status, text, done, missing):
    """A qmgr-control v1 reply frame."""
    attributes = [("type", "reply"), ("status", status), ("text", text),
                  ("done_count", str(len(done)))]
    attributes += [(f"done.{i}", v) for i, v in enumerate(done)]
    attributes += [("missing_count", str(len(missing)))]
    attributes += [(f"missing.{i}", v) for i, v in enumerate(missing)]
    return encode_frame("qmgr-control", 1, attributes)
