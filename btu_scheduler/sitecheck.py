"""Checks of what the daemon depends on: Redis, the site's URL and the API token.

Run by ``btu-scheduler check`` (exit 1 when one fails) and by ``run`` at start-up (an
``error`` line per failure; the daemon starts anyway: the site may come up later, and
Redis is waited for). The site is asked ``GET /api/method/btu.api.whoami`` with the
daemon's token: it answers who the token belongs to and the app's version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis
import structlog
import urllib3
from redis.exceptions import RedisError, ResponseError
from urllib3.exceptions import HTTPError as Urllib3Error

from btu_scheduler.config import Settings
from btu_scheduler.configcheck import mask_url
from btu_scheduler.fire.auth import SiteAuth
from streams.keys import ENQUEUE_PATH, WHOAMI_PATH

log = structlog.get_logger("btu_scheduler")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str  # redis | site
    ok: bool
    message: str


def check_redis(settings: Settings, timeout_s: float = 3.0) -> CheckResult:
    shown = mask_url(settings.redis_url)
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    try:
        client.ping()
        try:
            version = client.info("server").get("redis_version", "?")
        except ResponseError:  # an ACL user without INFO: the version is a nicety
            version = "?"
    except RedisError as e:
        return CheckResult("redis", False, f"cannot reach Redis at {shown}: {e}")
    finally:
        client.close()
    return CheckResult("redis", True, f"Redis {version} answers at {shown}")


def site_headers(settings: Settings, method: str = "GET", target: str = "",
                 body: bytes = b"") -> dict[str, str]:  # fmt: skip
    """The token, or for a site without one the signature of this request."""
    headers = {"Accept": "application/json"}
    if settings.signed:
        headers |= SiteAuth(settings).headers(method, target, body)
    else:
        headers["Authorization"] = f"token {settings.api_key}:{settings.api_secret}"
    if settings.host_header:
        headers["Host"] = settings.host_header
    return headers


def _credentials(settings: Settings) -> str:
    if settings.signed:
        return "the signature made with signing_secret"
    return f"the token of api_key {settings.api_key!r}"


def check_site(settings: Settings, timeout_s: float = 5.0) -> CheckResult:
    """Ask the site who the daemon's token belongs to."""
    if not settings.frappe_url:
        return CheckResult("site", False, "setting 'frappe_url' is missing")
    if not (settings.api_key and settings.api_secret) and not settings.signed:
        return CheckResult(
            "site", False, "settings 'api_key' and 'api_secret' (or 'signing_secret') are needed"
        )
    parts = urlsplit(settings.frappe_url)
    host = parts.netloc.rpartition("@")[2]  # credentials in the URL are never sent
    base = f"{parts.scheme}://{host}{parts.path.rstrip('/')}"
    shown = mask_url(settings.frappe_url)
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=timeout_s))
    path = parts.path.rstrip("/")
    headers = site_headers(settings, "GET", path + WHOAMI_PATH)
    who = _credentials(settings)
    try:
        response = pool.request("GET", base + WHOAMI_PATH, headers=headers)
        if response.status in (404, 417):
            # A site whose BTU app predates whoami: ask the enqueue endpoint with an empty
            # body instead. It can enqueue nothing (400: fields missing), but a wrong
            # token is refused (401/403) before the body is read.
            json_headers = site_headers(settings, "POST", path + ENQUEUE_PATH, b"{}") | {
                "Content-Type": "application/json"
            }
            probe = pool.request("POST", base + ENQUEUE_PATH, body=b"{}", headers=json_headers)
            return _judge_probe(probe.status, probe.data[:65536], shown, who)
    except Urllib3Error as e:
        return CheckResult("site", False, f"cannot reach the site at {shown}: {_reason(e)}")
    finally:
        pool.clear()
    return _judge(response.status, response.data[:65536], shown, who)


def _judge_probe(status: int, data: bytes, shown: str, who: str) -> CheckResult:
    """The enqueue endpoint's answer to an empty body: past authentication (400 and the
    like) means the token is good."""
    if status in (404, 417):
        return CheckResult("site", False, f"the site at {shown} has no BTU app (HTTP "
                           f"{status} for btu.api.whoami and enqueue_scheduled): is "
                           "frappe_url the site's address?")  # fmt: skip
    if status in (401, 403) or status > 500:
        return _judge(status, data, shown, who)
    return CheckResult(
        "site", True,
        f"site {shown} accepts {who} (its BTU app is older than "
        "btu.api.whoami: user and version unknown)",
    )  # fmt: skip


def _judge(status: int, data: bytes, shown: str, who: str) -> CheckResult:
    if status in (401, 403):
        return CheckResult(
            "site", False,
            f"the site at {shown} refused {who} (HTTP {status}: "
            f"{_message(data)}): check api_key and api_secret (or signing_secret against the "
            "site's btu_scheduler_secret), and that the user has the BTU Scheduler role",
        )  # fmt: skip
    if status in (404, 417):
        return CheckResult(
            "site", False,
            f"the site at {shown} does not know btu.api.whoami (HTTP {status}): is frappe_url "
            "the site's address, and is a BTU app of this version installed there?",
        )  # fmt: skip
    if not 200 <= status < 300:
        return CheckResult("site", False, f"the site at {shown} answered HTTP {status}: "
                           f"{_message(data)}")  # fmt: skip
    answer = _parse(data)
    message = answer.get("message") if isinstance(answer, dict) else None
    if not isinstance(message, dict):
        return CheckResult("site", False, f"the site at {shown} gave no whoami answer: is it "
                           "a Frappe site?")  # fmt: skip
    user, version = message.get("user"), message.get("version")
    if message.get("can_fire") is False:
        return CheckResult("site", False, f"user {user!r} may not fire at {shown}: give it the "
                           "BTU Scheduler role")  # fmt: skip
    return CheckResult("site", True, f"site {shown} answers as {user!r}, BTU {version}")


def _parse(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _message(data: bytes) -> str:
    parsed = _parse(data)
    if isinstance(parsed, dict):
        for key in ("exception", "exc_type", "message"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return value.replace("\n", " ")[:200]
    return data[:200].decode("utf-8", "replace").replace("\n", " ") or "no message"


def _reason(error: Exception) -> str:
    text = error.__class__.__name__
    reason = getattr(error, "reason", None)
    if reason is not None:
        text += f": {reason.__class__.__name__}"
    return text


def run_checks(settings: Settings, *, site: bool = True) -> list[CheckResult]:
    results = [check_redis(settings)]
    if site:
        results.append(check_site(settings))
    return results


def startup_check(settings: Settings) -> None:
    """The site part of the checks, at start-up: an ``error`` line when it fails (the
    daemon carries on: the site may come up later, and every fire logs its outcome)."""
    result = check_site(settings)
    if result.ok:
        log.info("site_check", result=result.message)
    else:
        log.error("site_check_failed", error=result.message)
