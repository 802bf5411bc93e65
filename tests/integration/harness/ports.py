"""ports.py: free loopback ports chosen at run time.

The kernel picks the port (bind to port 0); a process-local set makes sure one test
process never hands the same port out twice, even after the probe socket is closed.
"""
import socket
import threading

_handed_out = set()
_lock = threading.Lock()
_ATTEMPTS = 200


def _probe(kind, host, port):
    """Binds a socket of kind ("tcp" or "udp") to host:port; returns the bound port or None."""
    sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, sock_type) as sock:
        if kind == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return None
        return sock.getsockname()[1]


def free_port(proto="tcp", host="127.0.0.1"):
    """Returns a port on host that is free now for proto: "tcp", "udp" or "both".

    "both" is for servers such as dnsmasq that listen on TCP and UDP with one number.
    """
    if proto not in ("tcp", "udp", "both"):
        raise ValueError(f"free_port: unknown protocol {proto!r}")
    first = "udp" if proto == "udp" else "tcp"
    with _lock:
        for _ in range(_ATTEMPTS):
            port = _probe(first, host, 0)
            if port is None or port in _handed_out:
                continue
            if proto == "both" and _probe("udp", host, port) is None:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"free_port: no free {proto} port on {host} after {_ATTEMPTS} tries")


def release_port(port):
    """Lets free_port hand port out again (for long test processes that cycle many ports)."""
    with _lock:
        _handed_out.discard(port)
