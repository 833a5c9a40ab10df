"""Declared functions only: the registry, resolution of a declared path, hostile targets
refused, and the argument checks run before anything is scheduled."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from btu.core.callables import (
    CONFIGURATION,
    CallableError,
    Registry,
    build_registry,
    catalog,
    check_arguments,
    check_path_syntax,
    choices,
    parse_extra,
    resolve,
    validate_call,
)

APPS_DIR = Path(__file__).parent / "apps"
INSTALLED = ("fakeframe", "fakeapp", "btu")


@pytest.fixture(autouse=True)
def fake_apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Put the stand-in apps on sys.path, and forget them afterwards."""
    monkeypatch.syspath_prepend(str(APPS_DIR))
    yield
    for name in [m for m in sys.modules if m.split(".")[0] in ("fakeapp", "fakeframe")]:
        del sys.modules[name]


def registry(*paths: str) -> Registry:
    """A registry where ``paths`` are declared (as if by a System Manager)."""
    return Registry(declared=dict.fromkeys(paths, CONFIGURATION))


def sample_task(to: str, subject: str, days: int = 7) -> str:
    return f"{to}:{subject}:{days}"


def flexible_task(to: str, **extra: object) -> None:
    return None


def keyword_only_task(*, region: str, limit: int = 10) -> None:
    return None


def positional_only_task(a: int, /) -> None:
    return None


class TestSyntax:
    @pytest.mark.parametrize("path", ["myapp.tasks.run", " myapp.run ", "a_1.b_2"])
    def test_dotted_paths_pass(self, path: str) -> None:
        """Well-formed dotted paths are accepted (and stripped)."""
        assert path.strip() == check_path_syntax(path)

    @pytest.mark.parametrize("path", ["run", "myapp..run", "my-app.run", "myapp.run()", "1app.x"])
    def test_malformed_paths_are_refused(self, path: str) -> None:
        """A path that is not identifiers joined by dots is refused with an example."""
        with pytest.raises(CallableError, match="dotted path"):
            check_path_syntax(path)

    @pytest.mark.parametrize("path", ["myapp._hidden", "myapp.tasks.__class__", "_app.run"])
    def test_private_names_are_refused(self, path: str) -> None:
        """Names starting with '_' (private, dunder) are never runnable."""
        with pytest.raises(CallableError, match="private and never runnable"):
            check_path_syntax(path)

    def test_empty_path_asks_for_one(self) -> None:
        """An empty path asks the user to enter one."""
        with pytest.raises(CallableError, match="Enter the function"):
            check_path_syntax("  ")


class TestRegistry:
    def test_an_app_declares_its_own_functions(self) -> None:
        """Hook entries of an app become declared paths, with the app as their source."""
        reg = build_registry({"fakeapp": ["fakeapp.tasks.digest"]}, None, INSTALLED)
        assert {"fakeapp.tasks.digest": "fakeapp"} == dict(reg.declared)
        assert () == reg.ignored

    def test_an_app_cannot_declare_another_packages_function(self) -> None:
        """An app naming another package's function (frappe's password utility) is ignored,
        with the reason."""
        hooks = {"fakeapp": ["fakeframe.utils.password.get_decrypted_password"]}
        reg = build_registry(hooks, None, INSTALLED)
        assert "fakeframe.utils.password.get_decrypted_password" not in reg
        assert 1 == len(reg.ignored)
        assert "an app declares only functions of its own package 'fakeapp'" in reg.ignored[0]

    def test_apps_not_installed_declare_nothing(self) -> None:
        """Hooks of an app that is not installed on the site are not read."""
        reg = build_registry({"otherapp": ["otherapp.tasks.run"]}, None, INSTALLED)
        assert [] == reg.paths()

    def test_malformed_hook_entries_are_ignored_with_reason(self) -> None:
        """A hook entry that is not a dotted path (or not a string) is ignored, named."""
        reg = build_registry({"fakeapp": ["fakeapp", 42, "fakeapp.tasks._private"]}, "", INSTALLED)
        assert [] == reg.paths()
        assert 3 == len(reg.ignored)

    def test_configuration_adds_full_paths(self) -> None:
        """BTU Configuration's lines add full paths of installed apps."""
        text = "fakeapp.tasks.digest\n\n# a comment\n  fakeframe.whitelisted_helper  \n"
        reg = build_registry({}, text, INSTALLED)
        assert ["fakeapp.tasks.digest", "fakeframe.whitelisted_helper"] == reg.paths()
        assert CONFIGURATION == reg.source_of("fakeapp.tasks.digest")

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            pytest.param("fakeapp.*", "is a prefix", id="wildcard"),
            pytest.param("fakeapp.tasks.", "is a prefix", id="trailing-dot"),
            pytest.param("fakeapp", "not a dotted path", id="package-only"),
            pytest.param("os.system", "not in an installed app", id="stdlib"),
            pytest.param("builtins.eval", "not in an installed app", id="builtins"),
            pytest.param("fakeapp.tasks.__dict__", "private", id="dunder"),
        ],
    )
    def test_configuration_refuses_prefixes_and_foreign_packages(
        self, line: str, reason: str
    ) -> None:
        """A configured line that is a prefix, outside the installed apps, or private is
        refused with its line number."""
        paths, problems = parse_extra(f"fakeapp.tasks.digest\n{line}", INSTALLED)
        assert ["fakeapp.tasks.digest"] == paths
        assert 1 == len(problems)
        assert problems[0].startswith("line 2: ")
        assert reason in problems[0]


# Each row: a path, what is declared, and the words the refusal must contain. Every
# one must be refused by resolve(), which both the form's save and the runner call.
HOSTILE = [
    pytest.param("fakeframe.os.system", (), "not declared", id="frappe.os-reexport"),
    pytest.param(
        "fakeframe.os.system", ("fakeframe.os.system",), "no module", id="frappe.os-declared"
    ),
    pytest.param(
        "fakeframe.subprocess.run",
        ("fakeframe.subprocess.run",),
        "no module",
        id="frappe.subprocess-declared",
    ),
    pytest.param("fakeframe.db.sql", (), "not declared", id="frappe.db.sql"),
    pytest.param("fakeframe.db.sql", ("fakeframe.db.sql",), "no module", id="db.sql-declared"),
    pytest.param(
        "fakeframe.utils.password.get_decrypted_password",
        (),
        "not declared",
        id="password-utility",
    ),
    pytest.param("fakeframe.client.delete", (), "not declared", id="frappe.client"),
    pytest.param("builtins.eval", (), "not declared", id="builtins.eval"),
    pytest.param("builtins.exec", ("builtins.exec",), "not a function defined", id="builtin-fn"),
    pytest.param("os.system", ("os.system",), "not a function defined", id="os.system"),
    pytest.param("__import__", (), "dotted path", id="__import__"),
    pytest.param("fakeapp.__builtins__.eval", (), "private", id="dunder-walk"),
    pytest.param("fakeapp.tasks.digest.__globals__", (), "private", id="dunder-globals"),
    pytest.param("fakeapp.tasks.os.system", ("fakeapp.tasks.os.system",), "no module", id="walk"),
    pytest.param("fakeapp.tasks.os", ("fakeapp.tasks.os",), "is a module", id="imported-module"),
    pytest.param("fakeapp.tasks.run", ("fakeapp.tasks.run",), "imported into", id="reexport"),
    pytest.param(
        "fakeapp.tasks.shared_helper",
        ("fakeapp.tasks.shared_helper",),
        "imported into",
        id="app-reexport",
    ),
    pytest.param("fakeapp.tasks.Thing", ("fakeapp.tasks.Thing",), "is a type", id="class"),
    pytest.param(
        "fakeapp.tasks.Thing.method", ("fakeapp.tasks.Thing.method",), "no module", id="method"
    ),
    pytest.param("fakeapp.tasks.bound", ("fakeapp.tasks.bound",), "is a partial", id="partial"),
    pytest.param("fakeapp.tasks.ANSWER", ("fakeapp.tasks.ANSWER",), "is a int", id="constant"),
    pytest.param("fakeapp.lazy.anything", ("fakeapp.lazy.anything",), "no function", id="getattr"),
    pytest.param("fakeapp.tasks.digest", (), "not declared", id="declared-then-undeclared"),
    pytest.param("fakeapp.nosuch.run", ("fakeapp.nosuch.run",), "no module", id="missing-module"),
    pytest.param(
        "fakeapp.tasks.missing", ("fakeapp.tasks.missing",), "no function", id="missing-function"
    ),
]


class TestResolve:
    def test_declared_function_resolves(self) -> None:
        """A declared function defined in its module is returned."""
        from fakeapp.tasks import digest  # type: ignore[import-not-found]

        assert digest is resolve("fakeapp.tasks.digest", registry("fakeapp.tasks.digest"))

    def test_declared_by_app_hook(self) -> None:
        """A function the app's hook declares resolves through the built registry."""
        reg = build_registry({"fakeapp": ["fakeapp.helpers.shared_helper"]}, None, INSTALLED)
        assert "helped" == resolve("fakeapp.helpers.shared_helper", reg)()

    def test_btu_samples_are_declared(self) -> None:
        """BTU's own samples stay runnable: its hooks.py declares them."""
        from btu import hooks, samples

        reg = build_registry({"btu": hooks.btu_runnable}, None, INSTALLED)
        for name in ("hello", "add", "fail", "sleep"):
            assert getattr(samples, name) is resolve(f"btu.samples.{name}", reg)

    @pytest.mark.parametrize(("path", "declared", "reason"), HOSTILE)
    def test_hostile_targets_are_refused(
        self, path: str, declared: tuple[str, ...], reason: str
    ) -> None:
        """Re-exports, builtins, dunder walks, classes, undeclared paths: all refused."""
        with pytest.raises(CallableError) as info:
            resolve(path, registry(*declared))
        assert reason in str(info.value)

    def test_refusal_explains_how_to_declare(self) -> None:
        """An undeclared path's refusal says where a declaration goes."""
        with pytest.raises(CallableError) as info:
            resolve("fakeapp.tasks.digest", registry())
        expected = (
            "'fakeapp.tasks.digest' is not declared runnable: the app that defines it must "
            "list it in its hooks.py (btu_runnable), or a System Manager must add the full "
            "path to BTU Configuration > Extra Runnable Functions."
        )
        assert expected == str(info.value)

    def test_module_import_failure_is_reported(self) -> None:
        """A declared module whose own code fails to import is reported with the error."""
        with pytest.raises(CallableError) as info:
            resolve("fakeapp.broken.run", registry("fakeapp.broken.run"))
        expected = "Importing 'fakeapp.broken' failed with ZeroDivisionError: division by zero."
        assert expected == str(info.value)

    def test_missing_dependency_inside_module_is_not_hidden(self) -> None:
        """A module that exists but imports something missing reports that import."""

        def importer(name: str) -> object:
            raise ModuleNotFoundError("No module named 'requests'", name="requests")

        with pytest.raises(CallableError, match=r"Importing 'myapp\.tasks' failed"):
            resolve("myapp.tasks.run", registry("myapp.tasks.run"), importer)

    def test_importer_returning_a_non_module_is_refused(self) -> None:
        """Only a module's own namespace is searched: any other object is refused."""
        with pytest.raises(CallableError, match="is not a module"):
            resolve("fake.mod.run", registry("fake.mod.run"), lambda name: object())


class TestCatalog:
    def test_lists_summary_and_arguments(self) -> None:
        """The form's choices carry each function's first docstring line and arguments."""
        reg = registry("fakeapp.tasks.digest", "fakeapp.tasks.undocumented")
        rows = catalog(reg)
        assert [
            {
                "path": "fakeapp.tasks.digest",
                "source": CONFIGURATION,
                "summary": "Send the digest of the last days.",
                "arguments": "(to: str, days: int = 7) -> str",
            },
            {
                "path": "fakeapp.tasks.undocumented",
                "source": CONFIGURATION,
                "summary": "",
                "arguments": "() -> None",
            },
        ] == rows

    def test_filters_by_query_and_reports_broken_declarations(self) -> None:
        """A query filters by path; a declared path that cannot resolve shows its error."""
        reg = registry("fakeapp.tasks.digest", "fakeapp.tasks.run")
        rows = catalog(reg, "RUN")
        assert ["fakeapp.tasks.run"] == [r["path"] for r in rows]
        assert "imported into" in rows[0]["error"]

    def test_choices_for_the_autocomplete(self) -> None:
        """Autocomplete items: path as value and label, signature and summary as text."""
        rows = choices(catalog(registry("fakeapp.tasks.digest")))
        assert [
            {
                "value": "fakeapp.tasks.digest",
                "label": "fakeapp.tasks.digest",
                "description": "digest(to: str, days: int = 7) -> str - Send the digest of "
                "the last days.",
            }
        ] == rows


class TestCheckArguments:
    def test_complete_arguments_pass(self) -> None:
        """Arguments covering every mandatory parameter pass."""
        assert check_arguments(sample_task, {"to": "a", "subject": "b"}) is None

    def test_missing_mandatory_parameters_are_named(self) -> None:
        """Every mandatory parameter missing from the arguments is named, in order."""
        with pytest.raises(CallableError) as info:
            check_arguments(sample_task, {"days": 1}, "myapp.sample_task")
        expected = "myapp.sample_task needs the arguments 'to', 'subject', missing from Arguments."
        assert expected == str(info.value)

    def test_single_missing_parameter_reads_naturally(self) -> None:
        """One missing parameter is reported in the singular."""
        with pytest.raises(CallableError) as info:
            check_arguments(sample_task, {"to": "a"}, "t")
        assert "t needs the argument 'subject', missing from Arguments." == str(info.value)

    def test_unknown_arguments_are_named(self) -> None:
        """Arguments the function does not take are named with what it accepts."""
        with pytest.raises(CallableError) as info:
            check_arguments(sample_task, {"to": "a", "subject": "b", "dayz": 3}, "t")
        expected = "t does not accept 'dayz' (it accepts 'days', 'subject', 'to')."
        assert expected == str(info.value)

    def test_var_keyword_accepts_anything(self) -> None:
        """A function with **kwargs accepts unknown arguments."""
        assert check_arguments(flexible_task, {"to": "a", "anything": 1}) is None

    def test_keyword_only_parameters_count(self) -> None:
        """Keyword-only parameters without defaults are mandatory too."""
        with pytest.raises(CallableError, match="needs the argument 'region'"):
            check_arguments(keyword_only_task, {})

    def test_positional_only_cannot_be_passed(self) -> None:
        """Positional-only parameters are refused: BTU passes keyword arguments."""
        with pytest.raises(CallableError, match="positional-only parameters \\('a'\\)"):
            check_arguments(positional_only_task, {"a": 1})


class TestValidateCall:
    def test_returns_the_function(self) -> None:
        """A declared path with fitting arguments gives back the function."""
        func = validate_call("fakeapp.tasks.digest", {"to": "x"}, registry("fakeapp.tasks.digest"))
        assert "x:7" == func(to="x")

    def test_reports_signature_problems_with_the_path(self) -> None:
        """Signature problems are reported with the dotted path the user typed."""
        with pytest.raises(CallableError) as info:
            validate_call(" fakeapp.tasks.digest ", {}, registry("fakeapp.tasks.digest"))
        assert str(info.value).startswith("fakeapp.tasks.digest needs the argument 'to'")

    def test_undeclared_is_refused_before_arguments(self) -> None:
        """An undeclared path is refused whatever the arguments."""
        with pytest.raises(CallableError, match="not declared"):
            validate_call("fakeapp.tasks.digest", {"to": "x"}, registry())
