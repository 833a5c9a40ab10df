"""How the CLI prints the daemon's answers and the streams' entries as text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from streams.keys import F

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _moment(ms: Any, show: Callable[[datetime], str]) -> str:
    """Epoch ms shown by ``show``; "-" for no number, the number itself when it is
    outside the years 1-9999."""
    if not isinstance(ms, int):
        return "-"
    try:
        moment = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return f"{ms} ms"
    return show(moment)


def iso(ms: Any) -> str:
    """Epoch ms as ISO 8601 UTC, exact to the millisecond."""
    return _moment(ms, lambda m: m.isoformat(timespec="milliseconds"))


def age(ms: Any) -> str:
    if not isinstance(ms, int):
        return "?"
    return f"{ms / 1000:.1f} s"


def show_ping(d: dict[str, Any]) -> str:
    role = "leader" if d.get("leader") else "standby"
    return (
        f"pong from {d['instance']} ({role}), version {d['version']}, up {d['uptime_s']:.0f} s, "
        f"{d['armed']} armed, next due {iso(d.get('next_due'))}"
    )


def show_status(d: dict[str, Any]) -> str:
    lag = d.get("lag_ms", {})
    broken = d.get("broken", [])
    lines = [
        f"instance   {d['instance']} ({'leader' if d.get('leader') else 'standby'})",
        f"armed      {d['armed']} of {d['items']} items; next due {iso(d.get('next_due'))}",
        f"events     {d['events_applied']} applied, {d['dead_letters']} dead letters",
        f"fires      {d['fires_sent']} sent, {d['fires_failed']} failed, "
        f"{d['fires_missed']} missed, backlog {d.get('backlog', 0)}",
        f"lag ms     p50 {lag.get('p50')}  p90 {lag.get('p90')}  p99 {lag.get('p99')}  "
        f"max {lag.get('max')}  ({lag.get('samples', 0)} samples)",
        f"leader     {d.get('leader_instance') or d.get('leader_lease') or 'none'}",
        f"broken     {len(broken)} item{'' if len(broken) == 1 else 's'}",
    ]
    lines += [f"  {b['id']}  {b['error']}" for b in broken]
    lines.append("instances:")
    rows = [("INSTANCE", "ROLE", "ARMED", "HEARTBEAT AGE", "HOST", "VERSION")]
    for inst in d.get("instances", []):
        rows.append(
            (
                str(inst.get("instance")),
                str(inst.get("role")),
                str(inst.get("armed", "")),
                age(inst.get("heartbeat_age_ms")),
                str(inst.get("host", "")),
                str(inst.get("version", "")),
            )
        )
    lines += ["  " + line for line in table(rows)]
    return "\n".join(lines)


def table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def show_next(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "nothing armed"
    return "\n".join(f"{iso(r['due'])}  {r['id']}" for r in rows)


def show_schedules(rows: list[dict[str, Any]]) -> str:
    """A header row, then one row per item: its state tells armed, disabled, done (a
    once item that fired), cancelled, ended and broken (with the error) apart."""
    if not rows:
        return "no items"
    out = [("ID", "STATE", "NEXT", "SCHEDULE", "TASK")]
    for r in rows:
        state = r.get("state") or ("armed" if r.get("next") is not None else "disarmed")
        if state == "broken":
            out.append((r["id"], state, "-", r.get("error", ""), "-"))
            continue
        if r.get("kind") == "cron":
            what = f"{r.get('cron')} {r.get('tz')}"
        else:
            what = f"once at {iso(r.get('at'))}"
        out.append((r["id"], state, r.get("next_iso") or "-", what, str(r.get("task"))))
    return "\n".join(table(out))


def show_reload(d: dict[str, Any]) -> str:
    if not d.get("armed"):
        return f"{d['id']}: reloaded, not armed"
    return f"{d['id']}: reloaded, next {', '.join(d.get('next', [])[:3])}"


def show_cancel(d: dict[str, Any]) -> str:
    if d.get("removed"):
        return f"{d['id']}: cancelled until its next change"
    return f"{d['id']}: was not armed; nothing cancelled"


NUMERIC_FIRE_FIELDS = (F.DUE, F.SENT, F.LAG_MS, F.ATTEMPT, F.HTTP)


def fire_json(fields: dict[str, str]) -> dict[str, Any]:
    """The entry with its numbers as JSON numbers (an empty ``http`` is null)."""
    out: dict[str, Any] = dict(fields)
    for name in NUMERIC_FIRE_FIELDS:
        raw = fields.get(name)
        if raw == "":
            out[name] = None
        elif raw is not None and raw.lstrip("-").isdigit():
            out[name] = int(raw)
    return out


def fire_line(fields: dict[str, str]) -> str:
    due = int(fields[F.DUE]) if fields.get(F.DUE, "").isdigit() else None
    detail = fields.get(F.DETAIL, "")
    return (
        f"{iso(due)}  {fields.get(F.OUTCOME, '?'):<9} {fields.get(F.ID, '?'):<20} "
        f"lag {fields.get(F.LAG_MS, '?')} ms  http {fields.get(F.HTTP) or '-'}  "
        f"attempt {fields.get(F.ATTEMPT, '?')}  job {fields.get(F.JOB) or '-'}"
        + (f"  detail {detail}" if detail else "")
    )


def dead_json(fields: dict[str, str], item_id: str | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(fields) | {"id": item_id}
    if fields.get(F.TS, "").isdigit():
        out[F.TS] = int(fields[F.TS])
    return out


def dead_line(fields: dict[str, str], item_id: str | None) -> str:
    ts = int(fields[F.TS]) if fields.get(F.TS, "").isdigit() else None
    return (
        f"{iso(ts)}  id {item_id or '-'}  source {fields.get(F.SOURCE, '?')}  "
        f"entry {fields.get(F.ENTRY, '?')}  reason {fields.get(F.REASON, '?')}"
    )


def short_iso(ms: Any) -> str:
    """Epoch ms as ``2026-12-01T02:40:00Z`` (to the second, for tables)."""
    return _moment(ms, lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _count(value: Any) -> str:
    return "-" if value is None else str(value)


def _last_fire(fire: dict[str, Any] | None, now: int) -> str:
    if not fire:
        return "-"
    sent = fire.get("sent")
    when = f" {age(now - sent)} ago" if isinstance(sent, int) else ""
    return f"{fire.get('outcome') or '?'}{when}"


def show_pool_status(pools: list[dict[str, Any]], problems_only: bool = False) -> str:
    """One row per site (every Redis server's; with ``problems_only`` those with a
    problem), the totals, then each pool's daemons."""
    out = [("SITE", "LEADER", "ARMED", "NEXT DUE", "SENT", "FAILED", "LAST FIRE",
            "BEAT AGE", "STATE")]  # fmt: skip
    ok = bad = 0
    for pool in pools:
        for r in pool["sites"]:
            ok, bad = (ok + 1, bad) if r["ok"] else (ok, bad + 1)
            if problems_only and r["ok"]:
                continue
            out.append(
                (
                    r["site"],
                    r.get("leader") or "-",
                    _count(r.get("armed")),
                    short_iso(r.get("next_due")),
                    _count(r.get("fires_sent")),
                    _count(r.get("fires_failed")),
                    _last_fire(r.get("last_fire"), pool["now_ms"]),
                    age(r.get("heartbeat_age_ms"))
                    if r.get("heartbeat_age_ms") is not None
                    else "-",
                    "ok" if r["ok"] else f"PROBLEM: {r['problem']}",
                )
            )
    lines = table(out) if len(out) > 1 else ["no site with a problem" if ok else "no sites"]
    lines.append(f"{ok + bad} site{'' if ok + bad == 1 else 's'}: {ok} ok, {bad} with a problem")
    for pool in pools:
        daemons = pool["daemons"]
        alive = sum(1 for d in daemons if d["alive"])
        lines.append(
            f"pool {pool['pool']!r} at {pool['redis_url']}: {alive} daemon"
            f"{'' if alive == 1 else 's'} alive"
        )
        rows = [("  DAEMON", "ALIVE", "LEADS")]
        for d in daemons:
            until = d.get("alive_for_ms")
            if d["alive"]:
                state = f"yes (renewed, {age(until)} left)"
            elif isinstance(until, int):
                state = f"no (gone {age(-until)} ago)"
            else:
                state = "no (not a member)"
            rows.append((f"  {d['instance']}", state, str(d["leads"])))
        if len(rows) > 1:
            lines += table(rows)
    return "\n".join(lines)
