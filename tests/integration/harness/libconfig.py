"""libconfig.py: Python values written as a libconfig configuration file (postern's syntax).

dict -> group `{ name = value; }`, list of scalars -> array `[ a, b ]`, list holding a
dict, list or tuple (and any tuple) -> list `( ... )`, str -> quoted and escaped, bool ->
true/false, int -> decimal (with L past 32 bits), float -> decimal with a point.
deep_merge() combines test defaults with a test's keyword arguments.
"""
import copy
import math
import re

_NAME = re.compile(r"^[A-Za-z*][-A-Za-z0-9_*]*$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def quote(text):
    """A libconfig string literal for text: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}L" if not -2**31 <= value < 2**31 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"libconfig: cannot write {value!r}")
        text = repr(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"libconfig: cannot write a {type(value).__name__}: {value!r}")


def _is_aggregate(value):
    return isinstance(value, (dict, list, tuple))


def value_text(value, indent=0):
    """The libconfig text of one value (scalar, group, array or list)."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{ }"
        body = "".join(f"{pad}{setting_text(k, v, indent + 1)}\n" for k, v in value.items() if v is not None)
        return "{\n" + body + "  " * indent + "}"
    if isinstance(value, tuple) or (isinstance(value, list) and any(_is_aggregate(v) for v in value)):
        if not value:
            return "( )"
        items = ",\n".join(pad + value_text(v, indent + 1) for v in value)
        return "(\n" + items + "\n" + "  " * indent + ")"
    if isinstance(value, list):
        return "[ " + ", ".join(_scalar(v) for v in value) + " ]" if value else "[ ]"
    return _scalar(value)


def setting_text(name, value, indent=0):
    """One `name = value;` setting."""
    if not _NAME.match(name):
        raise ValueError(f"libconfig: invalid setting name {name!r}")
    return f"{name} = {value_text(value, indent)};"


def dumps(settings):
    """The text of a whole configuration file from a dict of top-level settings.
    Settings whose value is None are left out."""
    return "".join(setting_text(k, v) + "\n" for k, v in settings.items() if v is not None)


def deep_merge(base, overrides):
    """A copy of base with overrides applied: dicts merge recursively, anything else replaces,
    and None removes the setting."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
