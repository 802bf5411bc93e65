"""dns.py: a tiny DNS client over UDP, enough to check what a test's dnsmasq serves.

query("example.test", "MX", port=P) returns a DnsReply whose records are
(name, type, value): A/AAAA -> address text, MX -> (preference, exchange), CNAME/NS/PTR ->
name, TXT -> list of strings, anything else -> raw bytes.
"""
import ipaddress
import random
import socket
import struct
from dataclasses import dataclass, field

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}
TYPE_NAMES = {number: name for name, number in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass
class DnsReply:
    """A parsed answer: rcode name ("NOERROR", "NXDOMAIN", ...) and answer records."""
    rcode: str
    records: list = field(default_factory=list)

    def values(self, rtype):
        """The values of the answer records of type rtype ("MX", "A", ...)."""
        return [value for _, kind, value in self.records if kind == rtype]


def build_query(name, rtype, query_id):
    """The wire form of a recursive query for name/rtype."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(part)]) + part for part in name.rstrip(".").encode("idna").split(b".") if part)
    return header + labels + b"\0" + struct.pack("!HH", TYPES[rtype], 1)


def _read_name(message, offset):
    """Reads a possibly compressed name at offset; returns (name, offset after it)."""
    labels, end, jumps = [], None, 0
    while True:
        length = message[offset]
        if length & 0xC0 == 0xC0:
            if jumps > 20:
                raise ValueError("DNS name compression loop")
            jumps += 1
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            continue
        offset += 1
        if length == 0:
            return ".".join(labels), end if end is not None else offset
        labels.append(message[offset:offset + length].decode("ascii", "replace"))
        offset += length


def _rdata(message, offset, rtype, length):
    data = message[offset:offset + length]
    if rtype == 1:
        return str(ipaddress.IPv4Address(data))
    if rtype == 28:
        return str(ipaddress.IPv6Address(data))
    if rtype == 15:
        return struct.unpack("!H", data[:2])[0], _read_name(message, offset + 2)[0]
    if rtype in (2, 5, 12):
        return _read_name(message, offset)[0]
    if rtype == 16:
        strings, i = [], 0
        while i < len(data):
            strings.append(data[i + 1:i + 1 + data[i]].decode("utf-8", "replace"))
            i += 1 + data[i]
        return strings
    return data


def parse_reply(message, query_id):
    """Parses a reply to the query with query_id into a DnsReply."""
    ident, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", message[:12])
    if ident != query_id:
        raise ValueError(f"DNS reply id {ident} does not match query {query_id}")
    offset = 12
    for _ in range(qdcount):
        offset = _read_name(message, offset)[1] + 4
    reply = DnsReply(RCODES.get(flags & 0xF, str(flags & 0xF)))
    for _ in range(ancount):
        name, offset = _read_name(message, offset)
        rtype, _, _, length = struct.unpack("!HHIH", message[offset:offset + 10])
        offset += 10
        reply.records.append((name, TYPE_NAMES.get(rtype, str(rtype)), _rdata(message, offset, rtype, length)))
        offset += length
    return reply


def query(name, rtype="A", server="127.0.0.1", port=53, timeout=2.0):
    """Asks server:port for name/rtype over UDP; returns a DnsReply (raises socket.timeout)."""
    query_id = random.randrange(1 << 16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(build_query(name, rtype, query_id), (server, port))
        while True:
            message, _ = sock.recvfrom(4096)
            if len(message) >= 12 and struct.unpack("!H", message[:2])[0] == query_id:
                return parse_reply(message, query_id)
