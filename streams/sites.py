"""The site registry ``btu:sites`` (ours, issue 11; docs/protocol.md "Site discovery").

The app writes one hash field per site: field = the site name, value = a JSON object
``{"site", "host_header", "app_version", "registered_ms"}``. Nothing in it is secret: a
daemon that discovers a site still needs the bench secret (``streams.signing``) to call
it. Readers ignore fields they do not know; anything else malformed is one
:class:`~streams.errors.ProtocolError` naming the site and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.errors import ProtocolError
from streams.keys import MAX_SITE_LENGTH, Keys, SiteField

MAX_ENTRY_BYTES = 4096
MAX_VERSION_LENGTH = 64


def _text(value: str | bytes, what: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{what} is not valid UTF-8") from None
    if isinstance(value, str):
        return value
    raise ProtocolError(f"{what} is a {type(value).__name__}, not a string")


def _printable(value: str) -> bool:
    return value.isprintable() and not any(c.isspace() for c in value)


@dataclass(frozen=True, slots=True)
class SiteEntry:
    """One registered site. ``host_header`` is what requests to it send as ``Host``."""

    site: str
    host_header: str
    app_version: str
    registered_ms: int

    def __post_init__(self) -> None:
        Keys(self.site)  # a usable site name, or ProtocolError naming it
        where = f"site {self.site!r}"
        if (
            not isinstance(self.host_header, str)
            or not 0 < len(self.host_header) <= MAX_SITE_LENGTH
            or not _printable(self.host_header)
        ):
            raise ProtocolError(
                f"{where}: {SiteField.HOST_HEADER!r} must be 1-{MAX_SITE_LENGTH} printable "
                f"characters without spaces, not {self.host_header!r}"
            )
        if (
            not isinstance(self.app_version, str)
            or len(self.app_version) > MAX_VERSION_LENGTH
            or not (self.app_version == "" or _printable(self.app_version))
        ):
            raise ProtocolError(
                f"{where}: {SiteField.APP_VERSION!r} must be a string of at most "
                f"{MAX_VERSION_LENGTH} printable characters, not {self.app_version!r}"
            )
        if (
            isinstance(self.registered_ms, bool)
            or not isinstance(self.registered_ms, int)
            or self.registered_ms < 0
        ):
            raise ProtocolError(
                f"{where}: {SiteField.REGISTERED_MS!r} must be a non-negative integer "
                f"(epoch ms), not {self.registered_ms!r}"
            )

    def encode(self) -> str:
        """The hash value (compact JSON); the hash field is :attr:`site`."""
        return json.dumps(
            {
                SiteField.SITE: self.site,
                SiteField.HOST_HEADER: self.host_header,
                SiteField.APP_VERSION: self.app_version,
                SiteField.REGISTERED_MS: self.registered_ms,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, field: str | bytes, value: str | bytes) -> SiteEntry:
        """The entry stored under hash field ``field``; :class:`ProtocolError` naming the
        site and the problem when it is malformed (not JSON, a missing or mistyped
        field, a ``site`` that differs from the hash field, oversize)."""
        site = _text(field, "a btu:sites field")
        where = f"btu:sites entry {site[:MAX_SITE_LENGTH]!r}"
        text = _text(value, where)
        if len(text.encode("utf-8", "surrogatepass")) > MAX_ENTRY_BYTES:
            raise ProtocolError(f"{where} is longer than {MAX_ENTRY_BYTES} bytes")
        try:
            data: Any = json.loads(text)
        except ValueError:
            raise ProtocolError(f"{where} is not JSON") from None
        if not isinstance(data, dict):
            raise ProtocolError(f"{where} is not a JSON object")
        for name in (
            SiteField.SITE,
            SiteField.HOST_HEADER,
            SiteField.APP_VERSION,
            SiteField.REGISTERED_MS,
        ):
            if name not in data:
                raise ProtocolError(f"{where} has no {name!r}")
        if data[SiteField.SITE] != site:
            raise ProtocolError(
                f"{where} says {SiteField.SITE!r} is {data[SiteField.SITE]!r}; "
                "it must equal the hash field"
            )
        return cls(
            site=site,
            host_header=data[SiteField.HOST_HEADER],
            app_version=data[SiteField.APP_VERSION],
            registered_ms=data[SiteField.REGISTERED_MS],
        )


def decode_registry(
    raw: Mapping[str, str] | Mapping[bytes, bytes] | Mapping[Any, Any],
) -> tuple[dict[str, SiteEntry], dict[str, str]]:
    """Decode a whole ``HGETALL btu:sites``: ``(entries by site, errors by field)``.

    One malformed entry never hides the others: its field maps to the reason in the
    second dict (undecodable field names appear with invalid bytes replaced).
    """
    entries: dict[str, SiteEntry] = {}
    errors: dict[str, str] = {}
    for field, value in raw.items():
        try:
            entry = SiteEntry.decode(field, value)
        except ProtocolError as e:
            name = field.decode("utf-8", "replace") if isinstance(field, bytes) else str(field)
            errors[name] = str(e)
        else:
            entries[entry.site] = entry
    return entries, errors
