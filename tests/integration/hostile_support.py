"""hostile_support.py: helpers shared by the test_hostile_*.py modules: the bytes a hostile
peer sends (a TLS ClientHello), and checks that what postern writes (log lines, queue files,
DSNs, command output) carries no control character a peer slipped in.
"""
import re
import ssl

# Control characters that must never come out of postern raw: C0 but TAB and LF, DEL, and
# the C1 controls (as UTF-8, U+0080..U+009F). TAB is fine in a header's folding.
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
_RAW_CONTROL_BUT_CRLF = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\r(?!\n)|(?<!\r)\n")


def client_hello(server_name="mx.postern.test"):
    """The first flight of a TLS client (a ClientHello record), as a client that speaks TLS
    at once (implicit TLS) would send it to a plain SMTP port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def raw_controls(data, crlf_lines=False):
    """The control characters found in data (bytes) as a sorted list of their reprs; with
    crlf_lines, CR LF line ends are allowed and bare CR or LF are not."""
    pattern = _RAW_CONTROL_BUT_CRLF if crlf_lines else _RAW_CONTROL
    return sorted({repr(m.group(0)) for m in pattern.finditer(data)})


def read_bytes(path):
    """The whole file, b"" when it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def assert_clean_text(test, data, what, crlf_lines=False):
    """Fails test when data (bytes) holds a raw control character or is not UTF-8."""
    found = raw_controls(data, crlf_lines)
    test.assertEqual(found, [], f"raw control characters in {what}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        test.fail(f"{what} is not UTF-8: {e}")


def sanitized(binary):
    """True when the program was built with AddressSanitizer (its memory use is no measure)."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()
