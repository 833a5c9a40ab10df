"""Run As: which user a task runs as, and who may make something run as that user.

A task runs as its Run As user, with that user's permissions. Choosing what runs as a
user (the task's function, its arguments, its Run As, a schedule's argument overrides, a
run-later item's arguments) is acting for that user: a user may do it only for
themselves; a System Manager (or Administrator) may do it for anyone.
"""

from __future__ import annotations

from collections.abc import Collection

from btu.core.roles import ADMINISTRATOR, SYSTEM_MANAGER

GUEST = "Guest"


class RunAsError(PermissionError):
    """The user may not make something run as another user; the message says why."""


def may_act_as(user: str, user_roles: Collection[str], run_as: str) -> bool:
    """Whether ``user`` may choose what runs as ``run_as``."""
    return user == run_as or user == ADMINISTRATOR or SYSTEM_MANAGER in user_roles


def check_may_act_as(user: str, user_roles: Collection[str], run_as: str, what: str) -> None:
    """Raise :class:`RunAsError` unless ``user`` may choose ``what`` for ``run_as``."""
    if may_act_as(user, user_roles, run_as):
        return
    raise RunAsError(
        f"{what} runs as {run_as}: only {run_as} or a System Manager may change it. "
        f"Set Run As to yourself ({user}) to run it with your own permissions."
    )


def check_author(author: str | None, author_roles: Collection[str], run_as: str, what: str) -> None:
    """Raise :class:`RunAsError` unless ``author``, who set ``what`` (a schedule's
    argument overrides, a run-later item's arguments), may act for ``run_as``: a Run As
    changed after the arguments were set must not lend its user to them."""
    if not author:
        raise RunAsError(f"Nobody is recorded as having set {what}: set them again.")
    if may_act_as(author, author_roles, run_as):
        return
    raise RunAsError(
        f"{what} were set by {author}, who may not act for {run_as}: {run_as} or a System "
        "Manager must set them again (or clear them)."
    )


def check_runner(run_as: str | None, exists: bool, enabled: bool) -> str:
    """The user a run starts as, or :class:`RunAsError` when it cannot start as anyone."""
    if not run_as:
        raise RunAsError("It has no Run As user: set one on the task (or run-later item).")
    if run_as == GUEST:
        raise RunAsError("It cannot run as Guest: choose a user with the permissions it needs.")
    if not exists:
        raise RunAsError(f"Its Run As user {run_as} does not exist.")
    if not enabled and run_as != ADMINISTRATOR:
        raise RunAsError(f"Its Run As user {run_as} is disabled.")
    return run_as
