"""Constrained scalar types shared by the manifest models: quantities, names, durations, references."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_DNS_LABEL = re.compile(DNS_LABEL)
CPU = r"^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"
_CPU = re.compile(CPU)
BYTES = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
_BYTES = re.compile(BYTES)
DURATION = r"^[0-9]+(ms|s|m|h)$"
_DURATION = re.compile(DURATION)
SECRET_REF = r"^[a-z][a-z0-9_]{0,62}$"
_SECRET_REF = re.compile(SECRET_REF)
ENV_VAR = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_VAR = re.compile(ENV_VAR)
HTTP_PATH = r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$"
_HTTP_PATH = re.compile(HTTP_PATH)
HOSTNAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_HOSTNAME = re.compile(HOSTNAME)

_BYTE_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_LOOSE_BYTES = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtTpP])(i?[bB]?)$")


def _fail(kind: str, value: object, hint: str) -> PydanticCustomError:
    return PydanticCustomError("koyalite", "'{value}' is not " + kind, {"value": value, "hint": hint})


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63] or "name"
        raise PydanticCustomError(
            "koyalite",
            "'{value}' is not a valid name",
            {"value": value, "hint": f"use lowercase letters, digits and '-', starting with a letter, at most 63 characters: {suggestion}"},
        )
    return value


def _cpu(value: str) -> str:
    if not _CPU.match(value):
        raise _fail("a CPU quantity", value, "write millicores like 500m, or cores like 1 or 0.5")
    return value


def _bytes(value: str) -> str:
    if not _BYTES.match(value):
        loose = _LOOSE_BYTES.match(value)
        if loose:
            number, unit = loose.group(1), loose.group(2).upper()
            suggestion = f"{number}{'Ki' if unit == 'K' else unit + 'i'}"
            raise _fail("a byte quantity", value, f"write {suggestion}")
        raise _fail("a byte quantity", value, "write a number with a binary suffix, like 512Mi or 10Gi")
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise _fail("a duration", value, "write a whole number with ms, s, m or h, like 30s or 5m")
    return value


def _secret_ref(value: str) -> str:
    if not _SECRET_REF.match(value):
        raise PydanticCustomError(
            "secret",  # the code `secret` keeps the value out of every output, source snippets included
            "{shown} is not a secret name; it looks like a secret value",
            {
                "shown": "the value" if len(value) > 8 else repr(value),
                "hint": "name the secret here (like jwt_secret) and set its value with "
                "`koyalite secrets set NAME --env ENV` or `pulumi config set --secret NAME`",
            },
        )
    return value


def _env_var(value: str) -> str:
    if not _ENV_VAR.match(value):
        raise _fail("an environment variable name", value, "use letters, digits and '_', not starting with a digit")
    return value


def _http_path(value: str) -> str:
    if not _HTTP_PATH.match(value) or "/../" in value + "/" or "//" in value:
        raise _fail("an HTTP path", value, "start with '/' and use URL path characters, like /hello")
    return value


def _hostname(value: str) -> str:
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise _fail("a DNS name", value, "use lowercase labels separated by dots, like api.example.com")
    return value


def _schema(pattern: str, description: str, examples: list[Any], max_length: int | None = None) -> WithJsonSchema:
    limit = {} if max_length is None else {"maxLength": max_length}
    return WithJsonSchema({"type": "string", "pattern": pattern, **limit, "description": description, "examples": examples})


DnsLabel = Annotated[
    str,
    AfterValidator(_dns_label),
    _schema(DNS_LABEL, "A DNS-1123 label: lowercase letters, digits and '-', at most 63 characters.", ["hello"], 63),
]
CpuQuantity = Annotated[str, AfterValidator(_cpu), _schema(CPU, "A Kubernetes CPU quantity.", ["500m", "1"])]
ByteQuantity = Annotated[str, AfterValidator(_bytes), _schema(BYTES, "A Kubernetes byte quantity.", ["512Mi", "10Gi"])]
Duration = Annotated[str, AfterValidator(_duration), _schema(DURATION, "A duration: a whole number with ms, s, m or h.", ["30s", "5m"])]
SecretRef = Annotated[
    str,
    AfterValidator(_secret_ref),
    _schema(SECRET_REF, "The name of a secret held in Pulumi stack config (never its value).", ["jwt_secret"]),
]
EnvVarName = Annotated[str, AfterValidator(_env_var), _schema(ENV_VAR, "An environment variable name.", ["LOG_LEVEL"])]
HttpPath = Annotated[str, AfterValidator(_http_path), _schema(HTTP_PATH, "An absolute HTTP path.", ["/hello"])]
Hostname = Annotated[str, AfterValidator(_hostname), _schema(HOSTNAME, "A DNS name.", ["acme.example.com"], 253)]


def parse_bytes(quantity: str) -> int:
    """Bytes in a validated byte quantity (`10Gi` -> 10737418240)."""
    match = re.match(r"^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$", quantity)
    if not match:
        raise ValueError(f"not a byte quantity: {quantity}")
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2)])


def parse_cpu(quantity: str) -> int:
    """Millicores in a validated CPU quantity (`1.5` -> 1500, `250m` -> 250)."""
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


def parse_duration(duration: str) -> float:
    """Seconds in a validated duration (`5m` -> 300.0)."""
    match = re.match(r"^([0-9]+)(ms|s|m|h)$", duration)
    if not match:
        raise ValueError(f"not a duration: {duration}")
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def format_bytes(count: int) -> str:
    """The shortest exact binary quantity for a byte count (10737418240 -> `10Gi`)."""
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        size = _BYTE_UNITS[unit]
        if count and count % size == 0:
            return f"{count // size}{unit}"
    return str(count)
