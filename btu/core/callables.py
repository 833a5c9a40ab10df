"""Dotted paths of task functions: resolve them, and check that the arguments a Task
supplies fit the function's signature before anything is scheduled.

Resolving a path imports its module, which runs the module's top-level code, exactly as
Frappe's own hooks do; only BTU Managers can set a path, and ``allowed_roots`` limits
paths to the packages of installed apps.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
EXAMPLE = "myapp.tasks.send_digest"

Importer = Callable[[str], Any]


class CallableError(ValueError):
    """A dotted path that cannot be run with the given arguments; the message says why."""


def _quoted(names: Collection[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def check_path_syntax(path: str) -> str:
    """The stripped path, or :class:`CallableError` when it is not ``package.module.name``."""
    cleaned = (path or "").strip()
    if not cleaned:
        raise CallableError(f"Enter the function to run as a dotted path, e.g. {EXAMPLE}.")
    if not _DOTTED.match(cleaned):
        raise CallableError(
            f"'{cleaned}' is not a dotted path to a function (like {EXAMPLE}): use letters, "
            "digits and underscores separated by dots."
        )
    return cleaned


def _import_longest(parts: list[str], importer: Importer) -> tuple[Any, int]:
    """Import the longest importable module prefix of ``parts``; returns it and its length."""
    for size in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:size])
        try:
            return importer(name), size
        except ModuleNotFoundError as e:
            # Only "this very module (or a parent) does not exist" means: try a shorter
            # prefix. A module that exists but imports something missing is an error.
            if (
                e.name is not None
                and name.startswith(e.name)
                and (name == e.name or name[len(e.name)] == ".")
            ):
                continue
            raise CallableError(f"Importing '{name}' failed: {e}.") from e
        except Exception as e:  # the module's own code failed: report it, whatever it was
            raise CallableError(f"Importing '{name}' failed with {type(e).__name__}: {e}.") from e
    raise CallableError(f"No module named '{parts[0]}': is the app installed on this bench?")


def resolve(
    path: str,
    allowed_roots: Collection[str] | None = None,
    importer: Importer = importlib.import_module,
) -> Callable[..., Any]:
    """Import the callable named by ``path``.

    ``allowed_roots`` (the installed apps' package names, plus any configured extra)
    restricts the first component; ``None`` allows everything.
    """
    cleaned = check_path_syntax(path)
    parts = cleaned.split(".")
    if allowed_roots is not None and parts[0] not in allowed_roots:
        allowed = _quoted(sorted(allowed_roots)) or "(none)"
        raise CallableError(
            f"'{cleaned}' is outside the apps BTU may run: the path must start with one of "
            f"{allowed}."
        )
    target, size = _import_longest(parts, importer)
    walked = ".".join(parts[:size])
    for attr in parts[size:]:
        try:
            target = getattr(target, attr)
        except AttributeError as e:
            raise CallableError(f"'{walked}' has no attribute '{attr}'.") from e
        walked = f"{walked}.{attr}"
    if not callable(target):
        raise CallableError(
            f"'{cleaned}' is a {type(target).__name__}, not a function that can be called."
        )
    return target  # type: ignore[no-any-return]


def check_arguments(func: Callable[..., Any], args: Mapping[str, Any], path: str = "") -> None:
    """Raise :class:`CallableError` when calling ``func(**args)`` cannot bind: mandatory
    parameters missing from ``args`` are named, and so are unknown ones."""
    label = path or getattr(func, "__qualname__", repr(func))
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return  # some builtins have no signature: nothing can be checked in advance
    params = signature.parameters.values()
    positional_only = [
        p.name
        for p in params
        if p.kind is inspect.Parameter.POSITIONAL_ONLY and p.default is inspect.Parameter.empty
    ]
    if positional_only:
        raise CallableError(
            f"{label} needs positional-only parameters ({_quoted(positional_only)}), which BTU "
            "cannot pass: wrap it in a function that takes keyword arguments."
        )
    named = {
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    missing = [
        p.name
        for p in params
        if p.name in named and p.default is inspect.Parameter.empty and p.name not in args
    ]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    unknown = [] if takes_any else [k for k in args if k not in named]
    problems = []
    if missing:
        word = "argument" if len(missing) == 1 else "arguments"
        problems.append(f"{label} needs the {word} {_quoted(missing)}, missing from Arguments.")
    if unknown:
        accepted = _quoted(sorted(named)) if named else "no arguments"
        problems.append(f"{label} does not accept {_quoted(unknown)} (it accepts {accepted}).")
    if problems:
        raise CallableError(" ".join(problems))


def validate_call(
    path: str,
    args: Mapping[str, Any],
    allowed_roots: Collection[str] | None = None,
    importer: Importer = importlib.import_module,
) -> Callable[..., Any]:
    """Resolve ``path`` and check ``args`` against its signature; returns the callable."""
    func = resolve(path, allowed_roots, importer)
    check_arguments(func, args, path.strip())
    return func


def allowed_roots(installed_apps: Collection[str], extra: str | None) -> frozenset[str]:
    """Package names a task may live in: the installed apps plus the extra package
    names configured one per line (or separated by commas) in BTU Configuration."""
    roots = {app.strip() for app in installed_apps if app.strip()}
    for chunk in re.split(r"[\s,]+", extra or ""):
        if chunk:
            roots.add(chunk.split(".")[0])
    return frozenset(roots)
