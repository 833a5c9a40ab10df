"""Field-level parsing shared by every message decoder.

Each helper raises :class:`~streams.errors.ProtocolError` naming the field and the
problem; nothing below lets a ``KeyError``, ``ValueError`` or ``UnicodeDecodeError``
escape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from streams.errors import ProtocolError
from streams.keys import PROTOCOL_VERSION, F

# Upper bounds on what one field may carry. Frappe names are at most 140 characters.
MAX_ID = 140
MAX_SHORT = 256
MAX_TEXT = 8_192
MAX_JSON = 1_048_576
# Epoch milliseconds between 1970 and 9999-12-31.
MAX_MS = 253_402_300_799_999

_CONTROL = re.compile("[\x00-\x1f\x7f]")

Fields = Mapping[str, str]
RawFields = Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str]


def normalize(raw: RawFields | Any) -> dict[str, str]:
    """Turn what redis-py returns (bytes or str keys and values) into ``dict[str, str]``."""
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"entry is a {type(raw).__name__}, not a field map")
    out: dict[str, str] = {}
    for key, value in raw.items():
        k = key if type(key) is str else _text(key, "field name")
        out[k] = value if type(value) is str else _text(value, f"field {k!r}")
    return out


def _text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"{what} is not valid UTF-8") from e
    raise ProtocolError(f"{what} has type {type(value).__name__}, expected a string")


def check_version(fields: Fields) -> None:
    version = fields.get(F.V)
    if version is None:
        raise ProtocolError(f"missing field {F.V!r} (protocol version)")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"field {F.V!r} is {version!r}: this reader speaks protocol version {PROTOCOL_VERSION}"
        )


def req_str(fields: Fields, name: str, limit: int = MAX_SHORT) -> str:
    value = fields.get(name)
    if value is None:
        raise ProtocolError(f"missing field {name!r}")
    return check_str(name, value, limit)


def opt_str(fields: Fields, name: str, limit: int = MAX_SHORT) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    return check_str(name, value, limit)


def check_str(name: str, value: str, limit: int) -> str:
    if not value.strip():
        raise ProtocolError(f"field {name!r} is empty")
    if len(value) > limit:
        raise ProtocolError(f"field {name!r} is {len(value)} characters long; the limit is {limit}")
    return value


def check_id(name: str, value: str) -> str:
    check_str(name, value, MAX_ID)
    if _CONTROL.search(value):
        raise ProtocolError(f"field {name!r} contains a control character")
    return value


def req_id(fields: Fields, name: str = F.ID) -> str:
    value = fields.get(name)
    if value is None:
        raise ProtocolError(f"missing field {name!r}")
    return check_id(name, value)


def parse_int(name: str, value: str, lo: int = 0, hi: int = MAX_MS) -> int:
    # int() also accepts "1_000", " 12", "²" and other Unicode digits; the wire does not.
    body = value[1:] if value.startswith("-") else value
    if not body or len(body) > 20 or not (body.isascii() and body.isdigit()):
        raise ProtocolError(f"field {name!r} is {value[:40]!r}, not an integer")
    number = int(value)
    if not lo <= number <= hi:
        raise ProtocolError(f"field {name!r} is {number}, outside {lo}..{hi}")
    return number


def req_int(fields: Fields, name: str, lo: int = 0, hi: int = MAX_MS) -> int:
    value = fields.get(name)
    if value is None:
        raise ProtocolError(f"missing field {name!r}")
    return parse_int(name, value, lo, hi)


def opt_int(fields: Fields, name: str, lo: int = 0, hi: int = MAX_MS) -> int | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    return parse_int(name, value, lo, hi)


def req_bool(fields: Fields, name: str) -> bool:
    value = fields.get(name)
    if value is None:
        raise ProtocolError(f"missing field {name!r}")
    if value == "1":
        return True
    if value == "0":
        return False
    raise ProtocolError(f"field {name!r} is {value[:40]!r}; booleans are '1' or '0'")


def req_choice(fields: Fields, name: str, choices: frozenset[str] | tuple[str, ...]) -> str:
    value = fields.get(name)
    if value is None:
        raise ProtocolError(f"missing field {name!r}")
    if value not in choices:
        allowed = ", ".join(sorted(choices))
        raise ProtocolError(f"field {name!r} is {value[:40]!r}; expected one of {allowed}")
    return value


def b(value: bool) -> str:
    return "1" if value else "0"


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(name: str, text: str, limit: int = MAX_JSON) -> Any:
    if len(text) > limit:
        raise ProtocolError(f"field {name!r} is {len(text)} characters long; the limit is {limit}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"field {name!r} is not valid JSON: {e}") from e


def lenient(raw: object) -> dict[str, str]:
    """Best-effort text view of an entry for a dead letter: never raises; undecodable
    bytes are replaced, and a value that is not a field map is kept as its repr."""
    if not isinstance(raw, Mapping):
        return {"_unreadable": repr(raw)[:MAX_TEXT]}
    out: dict[str, str] = {}
    for key, value in raw.items():
        k = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        v = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        out[k[:MAX_SHORT]] = v[:MAX_TEXT]
    return out
