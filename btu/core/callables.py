"""Which functions BTU may run, and checking a call before anything is scheduled.

A function is runnable only when it is *declared*:

* by the app that defines it, in its ``hooks.py``: ``btu_runnable = ["myapp.tasks.digest"]``
  (an app may declare only functions of its own package);
* or by a System Manager, in BTU Configuration > Extra Runnable Functions: full dotted
  paths of functions in installed apps, one per line, never a prefix.

Resolving a declared path imports its module and takes the attribute from the module's
own namespace, nothing else: the object must be a plain Python function whose
``__module__`` is that module. Names imported from elsewhere (``frappe.os``, ``frappe.db``),
builtins, classes, attribute walks and names starting with ``_`` are refused, declared or
not. The declaration is checked when a Task is saved *and* again just before the runner
calls the function, so an undeclared path never runs.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOOK = "btu_runnable"
CONFIGURATION = "BTU Configuration"
EXAMPLE = "myapp.tasks.send_digest"

_IDENT = r"[A-Za-z][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_IDENT}(\.{_IDENT})+$")
_ANY_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")

Importer = Callable[[str], Any]


class CallableError(ValueError):
    """A dotted path that cannot be run with the given arguments; the message says why."""


def _quoted(names: Collection[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def check_path_syntax(path: str) -> str:
    """The stripped path, or :class:`CallableError` when it is not ``package.module.name``
    made of public names (none may start with ``_``)."""
    cleaned = (path or "").strip()
    if not cleaned:
        raise CallableError(f"Enter the function to run as a dotted path, e.g. {EXAMPLE}.")
    if _ANY_DOTTED.match(cleaned) and not _DOTTED.match(cleaned):
        private = [p for p in cleaned.split(".") if p.startswith("_")]
        raise CallableError(
            f"'{cleaned}' names {_quoted(private)}: names starting with '_' are private and "
            "never runnable."
        )
    if not _DOTTED.match(cleaned):
        raise CallableError(
            f"'{cleaned}' is not a dotted path to a function (like {EXAMPLE}): use letters, "
            "digits and underscores separated by dots."
        )
    return cleaned


# -- declarations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    """The declared paths (path -> who declared it: an app or BTU Configuration) and the
    declarations that were ignored, each with its reason."""

    declared: Mapping[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    def __contains__(self, path: object) -> bool:
        return path in self.declared

    def source_of(self, path: str) -> str | None:
        return self.declared.get(path)

    def paths(self) -> list[str]:
        return sorted(self.declared)


def _app_of(path: str, installed_apps: Collection[str]) -> str | None:
    root = path.split(".", 1)[0]
    return root if root in installed_apps else None


def parse_extra(text: str | None, installed_apps: Collection[str]) -> tuple[list[str], list[str]]:
    """The paths of BTU Configuration's Extra Runnable Functions (one per line; blank lines
    and lines starting with ``#`` are skipped) and a problem per refused line."""
    paths: list[str] = []
    problems: list[str] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "*" in line or line.endswith("."):
            problems.append(
                f"line {number}: '{line}' is a prefix: name one function by its full dotted "
                f"path (like {EXAMPLE})."
            )
            continue
        try:
            path = check_path_syntax(line)
        except CallableError as e:
            problems.append(f"line {number}: {e}")
            continue
        if _app_of(path, installed_apps) is None:
            problems.append(
                f"line {number}: '{path}' is not in an installed app (installed: "
                f"{_quoted(sorted(installed_apps))})."
            )
            continue
        paths.append(path)
    return paths, problems


def build_registry(
    app_hooks: Mapping[str, Iterable[Any]],
    extra_text: str | None,
    installed_apps: Collection[str],
) -> Registry:
    """The registry from each installed app's ``btu_runnable`` hook and the configured
    extras. An app's entry naming another package's function is ignored (with a reason):
    an app declares only its own functions."""
    declared: dict[str, str] = {}
    ignored: list[str] = []
    for app, entries in app_hooks.items():
        if app not in installed_apps:
            continue
        for entry in entries:
            text = entry if isinstance(entry, str) else repr(entry)
            try:
                path = check_path_syntax(text)
            except CallableError as e:
                ignored.append(f"{app} hooks.py {HOOK}: {e}")
                continue
            if path.split(".", 1)[0] != app:
                ignored.append(
                    f"{app} hooks.py {HOOK}: '{path}' ignored: an app declares only functions "
                    f"of its own package '{app}'."
                )
                continue
            declared.setdefault(path, app)
    paths, problems = parse_extra(extra_text, installed_apps)
    for path in paths:
        declared.setdefault(path, CONFIGURATION)
    ignored.extend(f"{CONFIGURATION}: {p}" for p in problems)
    return Registry(declared=declared, ignored=tuple(ignored))


# -- resolution -----------------------------------------------------------------------


def _import(module_name: str, path: str, importer: Importer) -> types.ModuleType:
    try:
        module = importer(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (module_name + ".").startswith(e.name + "."):
            raise CallableError(
                f"'{path}' cannot be found: there is no module '{module_name}'. Is its app "
                "installed on this bench?"
            ) from e
        raise CallableError(f"Importing '{module_name}' failed: {e}.") from e
    except Exception as e:  # the module's own code failed: report it, whatever it was
        raise CallableError(
            f"Importing '{module_name}' failed with {type(e).__name__}: {e}."
        ) from e
    if not isinstance(module, types.ModuleType):
        raise CallableError(f"'{module_name}' is not a module.")
    return module


def resolve(
    path: str, registry: Registry, importer: Importer = importlib.import_module
) -> Callable[..., Any]:
    """The declared function ``path`` names, or :class:`CallableError` saying why not."""
    cleaned = check_path_syntax(path)
    if cleaned not in registry:
        raise CallableError(
            f"'{cleaned}' is not declared runnable: the app that defines it must list it in "
            f"its hooks.py ({HOOK}), or a System Manager must add the full path to "
            f"{CONFIGURATION} > Extra Runnable Functions."
        )
    module_name, name = cleaned.rsplit(".", 1)
    module = _import(module_name, cleaned, importer)
    # The module's own namespace: no module __getattr__, no walk through other objects.
    target = vars(module).get(name)
    if target is None:
        raise CallableError(f"Module '{module_name}' has no function '{name}'.")
    if not inspect.isfunction(target):
        raise CallableError(
            f"'{cleaned}' is a {type(target).__name__}, not a function defined in '{module_name}'."
        )
    if target.__module__ != module_name:
        raise CallableError(
            f"'{cleaned}' is '{target.__module__}.{target.__qualname__}' imported into "
            f"'{module_name}': only functions defined in the declared module run."
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
    registry: Registry,
    importer: Importer = importlib.import_module,
) -> Callable[..., Any]:
    """Resolve ``path`` and check ``args`` against its signature; returns the function."""
    func = resolve(path, registry, importer)
    check_arguments(func, args, path.strip())
    return func


# -- what the Task form offers --------------------------------------------------------


def summary_of(func: Callable[..., Any]) -> str:
    """The first line of the function's docstring ("" when it has none)."""
    doc = inspect.getdoc(func) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def catalog(
    registry: Registry, query: str = "", importer: Importer = importlib.import_module
) -> list[dict[str, str]]:
    """The declared functions whose path contains ``query`` (case-insensitive), each as
    ``{path, source, summary, arguments}``; one that cannot be resolved carries ``error``."""
    needle = (query or "").strip().lower()
    rows: list[dict[str, str]] = []
    for path in registry.paths():
        if needle and needle not in path.lower():
            continue
        row = {"path": path, "source": registry.declared[path]}
        try:
            func = resolve(path, registry, importer)
        except CallableError as e:
            row["error"] = str(e)
        else:
            row["summary"] = summary_of(func)
            row["arguments"] = str(inspect.signature(func))
        rows.append(row)
    return rows


def choices(rows: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """:func:`catalog` rows as the Desk's autocomplete items: the path as value and label,
    and ``name(arguments) - summary`` (or the error) as description."""
    out = []
    for row in rows:
        name = row["path"].rsplit(".", 1)[-1]
        if "error" in row:
            description = row["error"]
        else:
            description = f"{name}{row['arguments']}"
            if row.get("summary"):
                description += f" - {row['summary']}"
        out.append({"value": row["path"], "label": row["path"], "description": description})
    return out
