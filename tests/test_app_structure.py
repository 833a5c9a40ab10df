"""Structure of the Frappe app checked without Frappe: plain modules stay plain, the JSON
files Frappe syncs are well formed, and every dotted path the app names exists."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "btu"
MODULE = APP / "btu"
DOCTYPES = sorted((MODULE / "doctype").glob("*/*.json"))
ALL_JSON = sorted(MODULE.rglob("*.json"))
CORE = sorted((APP / "core").glob("*.py"))
ROLES = {"System Manager", "BTU Manager", "BTU User", "Administrator"}
DOCTYPE_KEYS = {
    "actions",
    "creation",
    "doctype",
    "engine",
    "field_order",
    "fields",
    "links",
    "modified",
    "modified_by",
    "module",
    "name",
    "owner",
    "permissions",
    "sort_field",
    "sort_order",
    "states",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def _module_file(dotted: str) -> Path:
    return APP.parent.joinpath(*dotted.split(".")).with_suffix(".py")


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())


class TestPlainModules:
    @pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
    def test_core_imports_no_frappe(self, path: Path) -> None:
        """btu.core modules import neither frappe nor any non-core part of the app."""
        offending = sorted(
            name
            for name in _imports(path)
            if name.split(".")[0] in {"frappe", "rq"}
            or (name.startswith("btu.") and not name.startswith("btu.core"))
        )
        assert [] == offending


class TestJsonFiles:
    @pytest.mark.parametrize("path", ALL_JSON, ids=lambda p: p.name)
    def test_parses(self, path: Path) -> None:
        """Every JSON file Frappe syncs is valid JSON with a doctype and a name."""
        data = _load(path)
        assert (True, True, "BTU") == (
            bool(data.get("doctype")),
            bool(data.get("name")),
            data.get("module"),
        )

    @pytest.mark.parametrize("path", ALL_JSON, ids=lambda p: p.name)
    def test_file_named_after_document(self, path: Path) -> None:
        """Folder and file are the scrubbed document name, as Frappe's sync expects."""
        scrubbed = _load(path)["name"].lower().replace(" ", "_")
        assert (scrubbed, scrubbed) == (path.parent.name, path.stem)


class TestDocTypes:
    @pytest.mark.parametrize("path", DOCTYPES, ids=lambda p: p.stem)
    def test_required_keys(self, path: Path) -> None:
        """Each DocType JSON has the keys of a Frappe v15 DocType file."""
        assert set() == DOCTYPE_KEYS - set(_load(path))

    @pytest.mark.parametrize("path", DOCTYPES, ids=lambda p: p.stem)
    def test_field_order_matches_fields(self, path: Path) -> None:
        """field_order lists every field exactly once, in order."""
        data = _load(path)
        assert [f["fieldname"] for f in data["fields"]] == data["field_order"]

    @pytest.mark.parametrize("path", DOCTYPES, ids=lambda p: p.stem)
    def test_fieldnames_are_valid(self, path: Path) -> None:
        """Fieldnames are lower-case identifiers and not SQL-awkward words."""
        bad = [
            f["fieldname"]
            for f in _load(path)["fields"]
            if not re.fullmatch(r"[a-z][a-z0-9_]*", f["fieldname"])
            or f["fieldname"] in {"group", "trigger", "order", "key", "name", "owner"}
        ]
        assert [] == bad

    @pytest.mark.parametrize("path", DOCTYPES, ids=lambda p: p.stem)
    def test_links_point_to_known_doctypes(self, path: Path) -> None:
        """Link and Table fields point to BTU DocTypes or standard Frappe ones."""
        known = {_load(p)["name"] for p in DOCTYPES} | {"User", "Email Account", "Report"}
        targets = {
            f["options"] for f in _load(path)["fields"] if f["fieldtype"] in ("Link", "Table")
        }
        assert set() == targets - known

    @pytest.mark.parametrize("path", DOCTYPES, ids=lambda p: p.stem)
    def test_controller_and_package(self, path: Path) -> None:
        """Each DocType has its controller class and an __init__.py."""
        data = _load(path)
        class_name = data["name"].replace(" ", "")
        controller = path.with_suffix(".py")
        assert (True, True) == (
            f"class {class_name}(Document)" in controller.read_text(),
            (path.parent / "__init__.py").exists(),
        )

    @pytest.mark.parametrize("path", DOCTYPES, ids=lambda p: p.stem)
    def test_permissions_use_known_roles(self, path: Path) -> None:
        """Permissions name only System Manager and BTU's roles."""
        roles = {p["role"] for p in _load(path)["permissions"]}
        assert set() == roles - ROLES

    def test_naming(self) -> None:
        """Schedules, run-later items and logs get the documented name series."""
        names = {_load(p)["name"]: _load(p).get("autoname") for p in DOCTYPES}
        expected = {
            "BTU Task Schedule": "TS-.######",
            "BTU Run Later": "RL-.######",
            "BTU Task Log": "TL-.########",
            "BTU Task": "field:title",
        }
        assert expected == {k: names[k] for k in expected}

    def test_history_is_tracked(self) -> None:
        """Tasks, schedules and run-later items keep their version history."""
        tracked = {_load(p)["name"] for p in DOCTYPES if _load(p).get("track_changes")}
        assert {"BTU Task", "BTU Task Schedule", "BTU Run Later"} <= tracked

    def test_fire_id_is_unique(self) -> None:
        """The Task Log's fire_id carries a unique index: the durable record of a fire."""
        log = _load(MODULE / "doctype" / "btu_task_log" / "btu_task_log.json")
        [fire_id] = [f for f in log["fields"] if f["fieldname"] == "fire_id"]
        assert (1, True) == (fire_id.get("unique"), fire_id.get("length", 140) >= 164)

    def test_doctype_has_test(self) -> None:
        """Every DocType folder has its FrappeTestCase module."""
        missing = [p.stem for p in DOCTYPES if not (p.parent / f"test_{p.stem}.py").exists()]
        assert [] == missing


class TestDottedPaths:
    def _hooks(self) -> dict[str, object]:
        namespace: dict[str, object] = {}
        exec((APP / "hooks.py").read_text(), namespace)  # hooks.py is declarative
        return namespace

    def _hook_paths(self) -> list[str]:
        hooks = self._hooks()
        events = hooks["scheduler_events"]
        assert isinstance(events, dict)
        paths = [p for v in events.values() if isinstance(v, list) for p in v]
        paths += [
            p for v in events.values() if isinstance(v, dict) for ps in v.values() for p in ps
        ]
        runnable = hooks["btu_runnable"]
        assert isinstance(runnable, list)
        installs = [
            str(hooks[h])
            for h in (
                "after_install",
                "after_migrate",
                "before_uninstall",
                "after_app_install",
                "after_app_uninstall",
            )
        ]
        auth = hooks["auth_hooks"]
        assert isinstance(auth, list)
        return [*paths, *runnable, *installs, *auth]

    def test_patches_exist(self) -> None:
        """Every patch patches.txt names is a module with an ``execute`` function."""
        lines = (APP / "patches.txt").read_text().splitlines()
        patches = [x.strip() for x in lines if x.strip() and not x.startswith("[")]
        assert patches
        assert [] == [p for p in patches if "execute" not in _functions(_module_file(p))]

    def test_hook_functions_exist(self) -> None:
        """Every function hooks.py names is defined where it says."""
        missing = [
            p
            for p in self._hook_paths()
            if p.rsplit(".", 1)[1] not in _functions(_module_file(p.rsplit(".", 1)[0]))
        ]
        assert [] == missing

    def test_js_calls_whitelisted_methods(self) -> None:
        """Every btu.api method the Desk calls is a whitelisted function of btu/api.py."""
        tree = ast.parse((APP / "api.py").read_text())
        whitelisted = {
            n.name
            for n in tree.body
            if isinstance(n, ast.FunctionDef)
            and any("whitelist" in ast.unparse(d) for d in n.decorator_list)
        }
        called: set[str] = set()
        for js in list(APP.rglob("*.js")) + list(MODULE.rglob("*.json")):
            called.update(re.findall(r"btu\.api\.([a-z0-9_]+)", js.read_text()))
        assert (set(), True) == (called - whitelisted, len(called) > 5)

    def test_api_has_no_postponed_annotations(self) -> None:
        """btu/api.py keeps real annotations, which Frappe uses to validate arguments."""
        assert "__future__" not in _imports(APP / "api.py")

    def test_enqueue_scheduled_takes_the_whole_body(self) -> None:
        """The endpoint receives every field of the body (``**fire``), so that a missing,
        unknown or mistyped field is answered 400 by BTU's own check, not bound (and
        silently dropped) by Frappe."""
        tree = ast.parse((APP / "api.py").read_text())
        [func] = [
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "enqueue_scheduled"
        ]
        assert ([], "fire") == (func.args.args, func.args.kwarg and func.args.kwarg.arg)
