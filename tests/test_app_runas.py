"""Run As: who may make something run as whom, and who a run may start as."""

from __future__ import annotations

import pytest

from btu.core.runas import RunAsError, check_author, check_may_act_as, check_runner, may_act_as

MANAGER_ROLES = ("BTU Manager", "BTU User")


class TestMayActAs:
    @pytest.mark.parametrize(
        ("user", "roles", "run_as", "expected"),
        [
            pytest.param("alice@x", MANAGER_ROLES, "alice@x", True, id="self"),
            pytest.param("alice@x", MANAGER_ROLES, "Administrator", False, id="manager-as-admin"),
            pytest.param("alice@x", MANAGER_ROLES, "bob@x", False, id="manager-as-other"),
            pytest.param("sm@x", ("System Manager",), "Administrator", True, id="sysmgr-as-admin"),
            pytest.param("sm@x", ("System Manager",), "bob@x", True, id="sysmgr-as-other"),
            pytest.param("Administrator", (), "bob@x", True, id="administrator"),
            pytest.param("Guest", ("Guest",), "Administrator", False, id="guest"),
        ],
    )
    def test_rules(self, user: str, roles: tuple[str, ...], run_as: str, expected: bool) -> None:
        """Users act only for themselves; System Managers and Administrator for anyone."""
        assert expected is may_act_as(user, roles, run_as)

    def test_refusal_names_both_users(self) -> None:
        """The refusal says who the task runs as and what the user may do instead."""
        with pytest.raises(RunAsError) as info:
            check_may_act_as("alice@x", MANAGER_ROLES, "Administrator", "Task Nightly")
        expected = (
            "Task Nightly runs as Administrator: only Administrator or a System Manager may "
            "change it. Set Run As to yourself (alice@x) to run it with your own permissions."
        )
        assert expected == str(info.value)


class TestRunner:
    def test_existing_enabled_user(self) -> None:
        """An existing, enabled user is who the run starts as."""
        assert "alice@x" == check_runner("alice@x", exists=True, enabled=True)

    def test_administrator_always_runs(self) -> None:
        """Administrator runs even though its enabled flag is not consulted."""
        assert "Administrator" == check_runner("Administrator", exists=True, enabled=False)

    @pytest.mark.parametrize(
        ("run_as", "exists", "enabled", "reason"),
        [
            pytest.param("", False, False, "no Run As user", id="empty"),
            pytest.param(None, False, False, "no Run As user", id="none"),
            pytest.param("Guest", True, True, "cannot run as Guest", id="guest"),
            pytest.param("gone@x", False, False, "does not exist", id="deleted"),
            pytest.param("off@x", True, False, "is disabled", id="disabled"),
        ],
    )
    def test_refused(self, run_as: str | None, exists: bool, enabled: bool, reason: str) -> None:
        """A run without a usable user is refused with the reason."""
        with pytest.raises(RunAsError, match=reason):
            check_runner(run_as, exists, enabled)


class TestAuthor:
    def test_author_who_may_act_passes(self) -> None:
        """Arguments set by the Run As user themselves, or a System Manager, run."""
        assert check_author("alice@x", MANAGER_ROLES, "alice@x", "Overrides") is None
        assert check_author("sm@x", ("System Manager",), "Administrator", "Overrides") is None

    def test_run_as_changed_after_the_arguments_were_set(self) -> None:
        """A manager's overrides do not run as Administrator once Run As moves there."""
        with pytest.raises(RunAsError) as info:
            check_author("alice@x", MANAGER_ROLES, "Administrator", "The overrides of TS-1")
        expected = (
            "The overrides of TS-1 were set by alice@x, who may not act for Administrator: "
            "Administrator or a System Manager must set them again (or clear them)."
        )
        assert expected == str(info.value)

    def test_unknown_author_is_refused(self) -> None:
        """Arguments nobody is recorded as having set do not run."""
        with pytest.raises(RunAsError, match="Nobody is recorded"):
            check_author(None, (), "alice@x", "The overrides of TS-1")
