"""Signed daemon requests, the app's side (docs/decisions/0012): which requests the
``auth_hooks`` hook (``btu.auth.authenticate_signed``) handles, and the check itself.
Plain, no Frappe: the hook passes in the request's parts and the site's config.

Only requests that carry ``X-BTU-Signature`` **and** go to one of BTU's daemon-facing
endpoints are handled; a good signature makes the request run as :data:`DAEMON_USER`
(role BTU Scheduler only). Everything else is left to Frappe (API keys, sessions, Guest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams import signing
from streams.errors import SignatureRefused, SigningError
from streams.keys import ENQUEUE_BATCH_PATH, ENQUEUE_PATH, REPUBLISH_PATH, WHOAMI_PATH

# The daemon's user on every site: role BTU Scheduler only, no password, no API keys,
# Website User (no Desk). ".invalid" (RFC 2606) is a domain mail can never be sent to.
DAEMON_USER = "btu-scheduler@btu.invalid"
DAEMON_USER_FIRST_NAME = "BTU Scheduler"

DAEMON_PATHS = frozenset({ENQUEUE_PATH, ENQUEUE_BATCH_PATH, REPUBLISH_PATH, WHOAMI_PATH})


class Refused(Exception):
    """A signed request to a daemon endpoint does not authenticate; ``str()`` is the
    message for the caller (never the secret or the expected signature)."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # without the query string
    query_string: str  # as received, without "?"
    headers: Mapping[str, str]
    body: bytes

    @property
    def target(self) -> str:
        """The signed path: the path, plus ``?query`` when there is one."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path


def handles(request: Request) -> bool:
    """Whether the hook must check this request: signed, to a daemon endpoint."""
    return request.path in DAEMON_PATHS and signing.is_signed(request.headers)


def authenticate(site: str, conf: Mapping[str, Any], request: Request, now_ms: int) -> str:
    """The user a signed request runs as, or :class:`Refused` saying why not.

    ``conf`` is the site's merged config (the site's ``btu_scheduler_secret`` overrides
    the bench's), ``now_ms`` the site's clock. While a secret is rotated,
    ``btu_scheduler_secret_previous`` (when set) is accepted too.
    """
    previous = conf.get(signing.PREVIOUS_SECRET_SETTING)
    try:
        _verify(conf.get(signing.SECRET_SETTING), site, request, now_ms)
    except SignatureRefused as e:
        if e.reason != "bad-signature" or not previous:
            raise Refused(f"BTU signed request refused: {e}") from None
        try:
            _verify(previous, site, request, now_ms)
        except SigningError:
            raise Refused(f"BTU signed request refused: {e}") from None
    except SigningError as e:
        raise Refused(f"BTU signed request refused: {e}") from None
    return DAEMON_USER


def _verify(secret: Any, site: str, request: Request, now_ms: int) -> None:
    signing.verify(
        secret, site, request.headers, request.method, request.target, request.body, now_ms
    )
