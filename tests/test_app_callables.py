"""Dotted-path validation: importable, callable, and the arguments fit the signature."""

from __future__ import annotations

import pytest

from btu.core.callables import (
    CallableError,
    allowed_roots,
    check_arguments,
    check_path_syntax,
    resolve,
    validate_call,
)

HERE = "tests.test_app_callables"


def sample_task(to: str, subject: str, days: int = 7) -> str:
    return f"{to}:{subject}:{days}"


def flexible_task(to: str, **extra: object) -> None:
    return None


def keyword_only_task(*, region: str, limit: int = 10) -> None:
    return None


def positional_only_task(a: int, /) -> None:
    return None


NOT_CALLABLE = 42


class Namespace:
    @staticmethod
    def nested(x: int = 1) -> int:
        return x


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

    def test_empty_path_asks_for_one(self) -> None:
        """An empty path asks the user to enter one."""
        with pytest.raises(CallableError, match="Enter the function"):
            check_path_syntax("  ")


class TestResolve:
    def test_function_in_module(self) -> None:
        """A module-level function is found."""
        assert sample_task is resolve(f"{HERE}.sample_task")

    def test_attribute_chain(self) -> None:
        """Attributes past the module are walked, e.g. a static method on a class."""
        assert Namespace.nested is resolve(f"{HERE}.Namespace.nested")

    def test_stdlib_function(self) -> None:
        """Functions of any importable package resolve when no roots are imposed."""
        import json

        assert json.dumps is resolve("json.dumps")

    def test_missing_module(self) -> None:
        """A package that does not exist is reported by name."""
        with pytest.raises(CallableError) as info:
            resolve("no_such_app_xyz.tasks.run")
        expected = "No module named 'no_such_app_xyz': is the app installed on this bench?"
        assert expected == str(info.value)

    def test_missing_attribute(self) -> None:
        """An existing module without the named function says which attribute is missing."""
        with pytest.raises(CallableError) as info:
            resolve(f"{HERE}.no_such_function")
        assert f"'{HERE}' has no attribute 'no_such_function'." == str(info.value)

    def test_not_callable(self) -> None:
        """A value that cannot be called is refused with its type."""
        with pytest.raises(CallableError) as info:
            resolve(f"{HERE}.NOT_CALLABLE")
        assert f"'{HERE}.NOT_CALLABLE' is a int, not a function that can be called." == str(
            info.value
        )

    def test_module_import_failure_is_reported(self) -> None:
        """A module whose own code fails to import is reported with the error."""

        def importer(name: str) -> object:
            raise ZeroDivisionError("division by zero")

        with pytest.raises(CallableError) as info:
            resolve("broken.tasks.run", importer=importer)
        assert "Importing 'broken.tasks' failed with ZeroDivisionError: division by zero." == str(
            info.value
        )

    def test_missing_dependency_inside_module_is_not_hidden(self) -> None:
        """A module that exists but imports something missing reports that import."""

        def importer(name: str) -> object:
            raise ModuleNotFoundError("No module named 'requests'", name="requests")

        with pytest.raises(CallableError, match=r"Importing 'myapp\.tasks' failed"):
            resolve("myapp.tasks.run", importer=importer)

    def test_roots_restrict_the_first_package(self) -> None:
        """With allowed roots, a path outside them is refused and the roots are listed."""
        with pytest.raises(CallableError) as info:
            resolve("os.system", allowed_roots={"frappe", "btu"})
        expected = (
            "'os.system' is outside the apps BTU may run: the path must start with one of "
            "'btu', 'frappe'."
        )
        assert expected == str(info.value)

    def test_roots_allow_listed_packages(self) -> None:
        """A path under an allowed root resolves."""
        assert sample_task is resolve(f"{HERE}.sample_task", allowed_roots={"tests"})


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

    def test_builtins_without_signature_are_not_checked(self) -> None:
        """A callable without an inspectable signature is let through."""
        assert check_arguments(dict, {"anything": 1}) is None


class TestValidateCall:
    def test_returns_the_callable(self) -> None:
        """A valid path with fitting arguments gives back the function."""
        assert sample_task is validate_call(f"{HERE}.sample_task", {"to": "a", "subject": "b"})

    def test_reports_signature_problems_with_the_path(self) -> None:
        """Signature problems are reported with the dotted path the user typed."""
        with pytest.raises(CallableError) as info:
            validate_call(f" {HERE}.sample_task ", {})
        assert str(info.value).startswith(f"{HERE}.sample_task needs the arguments")


class TestAllowedRoots:
    def test_apps_and_extra_packages(self) -> None:
        """Installed apps plus extra packages (lines or commas, dotted names cut)."""
        expected = frozenset({"frappe", "btu", "erpnext", "mylib", "other"})
        actual = allowed_roots(["frappe", "btu", "erpnext"], "mylib\nother.sub, \n")
        assert expected == actual

    def test_no_extra(self) -> None:
        """Without extras, only the installed apps are allowed."""
        assert frozenset({"frappe"}) == allowed_roots(["frappe", " "], None)
