"""Helpers of the stand-in app."""


def shared_helper() -> str:
    """A helper the tasks module imports."""
    return "helped"
