"""Config files the targets ship as JSON (functions, webhooks, schedules): `json.dumps(value, indent=2, sort_keys=True)`
plus a final newline, byte for byte, written without the standard library's pure-Python indenting encoder.

With `indent` set, `json` falls back from its C encoder to a generator per value, which made the webhooks file
of a 1,000-webhook manifest most of the docker render. Strings still go through the C string encoder; the layout
rules below are the standard encoder's (`json.encoder._make_iterencode`) for the types a plan holds.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_INDENT = "  "


def json_file(value: Any) -> str:
    """The file's text: exactly `json.dumps(value, indent=2, sort_keys=True) + "\\n"`."""
    out: list[str] = []
    try:
        _value(value, 0, out)
    except _Unsupported:  # a type the standard encoder handles by its own rules (or refuses): let it
        return json.dumps(value, indent=2, sort_keys=True) + "\n"
    out.append("\n")
    return "".join(out)


class _Unsupported(Exception):
    """A value outside dict, list, tuple, str, int, float, bool and None, or a float that is not finite."""


def _value(value: Any, level: int, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(encode_basestring_ascii(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise _Unsupported
        out.append(float.__repr__(value))
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = "\n" + _INDENT * (level + 1)
        out.append("[" + inner)
        for i, item in enumerate(value):
            if i:
                out.append("," + inner)
            _value(item, level + 1, out)
        out.append("\n" + _INDENT * level + "]")
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = "\n" + _INDENT * (level + 1)
        out.append("{" + inner)
        for i, (key, item) in enumerate(sorted(value.items())):
            if type(key) is not str:
                raise _Unsupported  # the standard encoder turns numbers, booleans and None into keys its own way
            if i:
                out.append("," + inner)
            out.append(encode_basestring_ascii(key) + ": ")
            _value(item, level + 1, out)
        out.append("\n" + _INDENT * level + "}")
    else:
        raise _Unsupported
