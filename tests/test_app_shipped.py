"""Tasks shipped by apps (btu.core.shipped): reading btu_tasks and the merge rules that
keep a site manager's edits across migrates."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from btu.core.shipped import (
    WITHDRAWN,
    ShippedError,
    dump_last,
    load_last,
    merge,
    parse_hook,
    parse_task,
    withdraw,
)

ENTRY: dict[str, Any] = {
    "title": "Nightly digest",
    "function": "myapp.tasks.send_digest",
    "arguments": {"days": 1, "to": "ops@example.com"},
    "queue": "long",
    "schedules": [
        {"key": "morning", "cron": "0  7 * * 1-5", "time_zone": "Europe/Paris"},
        {"cron": "0 19 * * *", "enabled": False},
    ],
}


def migrate(db: dict[str, Any] | None, last: dict[str, Any], shipped: dict[str, Any]):
    """One sync: the record after the changes, and what is remembered."""
    result = merge(db, last, shipped)
    return {**(db or {}), **result.changes}, load_last(dump_last(result.last)), result


class TestParse:
    def test_entry(self) -> None:
        """A full entry: values normalised, schedule keys given or numbered."""
        task = parse_task("myapp", ENTRY, 0)
        assert (
            "Nightly digest",
            {
                "function_path": "myapp.tasks.send_digest",
                "arguments": '{"days":1,"to":"ops@example.com"}',
                "enabled": True,
                "queue": "long",
            },
            ["Nightly digest#morning", "Nightly digest#2"],
            {"cron_expression": "0 7 * * 1-5", "enabled": True, "time_zone": "Europe/Paris"},
            {"cron_expression": "0 19 * * *", "enabled": False},
        ) == (
            task.title,
            task.values,
            [task.schedule_key(s) for s in task.schedules],
            task.schedules[0].values,
            task.schedules[1].values,
        )

    def test_time_zone_is_canonical(self) -> None:
        """A zone is remembered as the schedule stores it, so it never looks edited."""
        entry = {**ENTRY, "schedules": [{"cron": "0 7 * * *", "time_zone": "europe/paris"}]}
        assert "Europe/Paris" == parse_task("myapp", entry, 0).schedules[0].values["time_zone"]

    def test_name_is_an_alias_of_title(self) -> None:
        entry = {"name": "Digest", "function": "myapp.tasks.send_digest"}
        assert "Digest" == parse_task("myapp", entry, 0).title

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"title": ""}, "'title' .* is required"),
            ({"function": "otherapp.tasks.x"}, "not a function of myapp"),
            ({"function": "myapp.tasks._x"}, "private"),
            ({"arguments": [1]}, "'arguments' must be a dict"),
            ({"enabled": "yes"}, "enabled must be True or False"),
            ({"cron": "0 7 * * *"}, r"unknown key\(s\) 'cron'"),
            ({"schedules": [{"time_zone": "UTC"}]}, "'cron' .* is required"),
            ({"schedules": [{"cron": "0 7 * * *", "every": 1}]}, r"unknown key\(s\) 'every'"),
            ({"schedules": [{"cron": "* * * * *", "key": "a"}] * 2}, "used twice: a"),
            ({"schedules": "0 7 * * *"}, "must be a list"),
            ({"schedules": [{"cron": "0 25 * * *"}]}, "cron '0 25 \\* \\* \\*'"),
            ({"schedules": [{"cron": "0 7 * * *", "time_zone": "Mars/Base"}]}, "Mars/Base"),
        ],
    )
    def test_bad_entries_name_the_problem(self, change: dict[str, Any], message: str) -> None:
        """Each mistake is refused with a message naming the app, the entry and the key."""
        with pytest.raises(ShippedError, match=message) as e:
            parse_task("myapp", {**ENTRY, **change}, 3)
        assert str(e.value).startswith("myapp hooks.py btu_tasks[3]")

    def test_hook_keeps_good_entries(self) -> None:
        """A bad entry or a doubled title is reported; the other entries are kept."""
        tasks, problems = parse_hook("myapp", [ENTRY, "oops", ENTRY])
        assert (["Nightly digest"], 2) == ([t.title for t in tasks], len(problems))
        assert "shipped twice" in problems[1]


class TestMerge:
    SHIPPED: ClassVar[dict[str, Any]] = {
        "cron_expression": "0 7 * * *",
        "time_zone": "Europe/Paris",
        "enabled": True,
    }

    def test_first_sync_creates(self) -> None:
        _db, last, result = migrate(None, {}, self.SHIPPED)
        assert (self.SHIPPED, self.SHIPPED) == (result.changes, last)

    def test_untouched_fields_follow_the_app(self) -> None:
        """A field the manager left as shipped takes the app's new value."""
        db, last, _ = migrate(None, {}, self.SHIPPED)
        new = {**self.SHIPPED, "cron_expression": "30 6 * * *"}
        db, last, result = migrate(db, last, new)
        assert ({"cron_expression": "30 6 * * *"}, "30 6 * * *") == (
            result.changes,
            db["cron_expression"],
        )

    def test_manager_edits_survive_migrates(self) -> None:
        """Enabled, cron and time zone changed in the Desk survive two later migrates,
        even when the app changes the same fields."""
        db, last, _ = migrate(None, {}, self.SHIPPED)
        db.update(enabled=0, cron_expression="0 8 * * 1", time_zone="America/New_York")
        edited = dict(db)
        db, last, first = migrate(db, last, self.SHIPPED)
        new = {"cron_expression": "30 6 * * *", "time_zone": "Asia/Tokyo", "enabled": True}
        db, last, second = migrate(db, last, new)
        assert (edited, {}, {}) == (db, first.changes, second.changes)
        assert ("cron_expression", "enabled", "time_zone") == tuple(sorted(second.kept))

    def test_mixed(self) -> None:
        """Only the edited field is kept; the others follow the app."""
        db, last, _ = migrate(None, {}, self.SHIPPED)
        db["time_zone"] = "UTC"
        new = {"cron_expression": "0 9 * * *", "time_zone": "Asia/Tokyo", "enabled": False}
        db, last, _ = migrate(db, last, new)
        assert {"cron_expression": "0 9 * * *", "time_zone": "UTC", "enabled": False} == db

    def test_database_forms_compare_equal(self) -> None:
        """Check fields (0/1), JSON text and cron spacing compare by meaning."""
        shipped = {"enabled": True, "arguments": '{"a":1,"b":2}', "cron_expression": "0 7 * * *"}
        db = {"enabled": 1, "arguments": '{\n "b": 2,\n "a": 1\n}', "cron_expression": "0  7 * * *"}
        result = merge(db, shipped, shipped)
        assert ({}, ()) == (result.changes, result.kept)

    def test_newly_shipped_field_fills_only_an_empty_one(self) -> None:
        """A field the app starts shipping replaces only an empty value."""
        db = {"queue": "", "description": "mine"}
        result = merge(db, {"enabled": True}, {"queue": "long", "description": "app's"})
        assert ({"queue": "long"}, ("description",)) == (result.changes, result.kept)


class TestWithdraw:
    def test_removal_disables_once(self) -> None:
        """Removing the hook disables the record; a later sync leaves it alone, so a
        manager may enable it again."""
        db, last, _ = migrate(None, {}, {"enabled": True, "cron_expression": "0 7 * * *"})
        first = withdraw(db, last)
        db = {**db, **first.changes}
        db["enabled"] = 1  # the manager enables it again
        second = withdraw(db, first.last)
        assert ({"enabled": False}, True, {}) == (
            first.changes,
            first.last[WITHDRAWN],
            second.changes,
        )

    def test_shipped_again_is_enabled_again(self) -> None:
        """An app that ships a withdrawn record again enables it (unless a manager did)."""
        shipped = {"enabled": True, "cron_expression": "0 7 * * *"}
        db, last, _ = migrate(None, {}, shipped)
        gone = withdraw(db, last)
        db = {**db, **gone.changes}
        db, last, result = migrate(db, load_last(dump_last(gone.last)), shipped)
        assert ({"enabled": True}, True) == (result.changes, WITHDRAWN not in last)

    def test_already_disabled(self) -> None:
        result = withdraw({"enabled": 0}, {"enabled": True})
        assert ({}, False) == (result.changes, result.last["enabled"])


class TestLast:
    def test_garbage_is_empty(self) -> None:
        assert ({}, {}, {}) == (load_last(None), load_last("{oops"), load_last("[1]"))
