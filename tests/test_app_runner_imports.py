"""What every RQ work horse imports to run a BTU job.

Frappe's worker forks a work horse per job from a parent that never imported BTU, so
each job imports ``btu.runner`` and everything it imports at module level. The wire
contract (``streams``: messages, the RPC client, the cron engine) costs about as much
as the rest of a trivial job; the runner must not need it for a schedule's run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside functions), with ``from a import b``
    counted as ``a.b`` when that is a module of ours."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                if _module_file(child):
                    names.add(child)
    return names


def import_closure(start: str) -> set[str]:
    """Every module ``start`` imports at module level, ours followed transitively
    (packages' ``__init__`` included)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            module = ".".join(parts[:i])
            if module in seen:
                continue
            seen.add(module)
            path = _module_file(module)
            if path is not None:
                todo.extend(_top_level_imports(path))
    return seen


class TestRunnerImports:
    def test_runner_does_not_import_the_wire_contract(self) -> None:
        """btu.runner's module-level imports reach neither streams nor the modules that
        bring it (payloads, firing, publishing)."""
        closure = import_closure("btu.runner")
        heavy = sorted(
            m
            for m in closure
            if m.split(".")[0] == "streams"
            or m
            in {"btu.core.payloads", "btu.core.firing", "btu.services.publishing", "btu.redis_conn"}
        )
        assert [] == heavy

    def test_closure_follows_from_imports(self) -> None:
        """The closure does follow ``from package import module`` (else the test above
        would pass on anything)."""
        closure = import_closure("btu.runner")
        assert {"btu.services.logs", "btu.services.notifications", "btu.core.notify"} <= closure
        assert "streams.keys" in import_closure("btu.core.payloads")


class TestWorkerPreload:
    def test_commands_module_imports_the_runner(self) -> None:
        """``btu.commands`` (which Frappe's CLI imports in ``bench worker``) imports
        ``btu.runner`` and declares no commands, so work horses inherit the runner."""
        path = ROOT / "btu" / "commands.py"
        assert "btu.runner" in _top_level_imports(path)
        tree = ast.parse(path.read_text())
        assigned = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.AnnAssign | ast.Assign)
            for target in ([node.target] if isinstance(node, ast.AnnAssign) else node.targets)
            if isinstance(target, ast.Name)
        }
        assert isinstance(assigned.get("commands"), ast.List)
        assert [] == assigned["commands"].elts
