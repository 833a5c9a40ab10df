"""Task arguments: JSON parsing with positions, and merging of overrides."""

from __future__ import annotations

import pytest

from btu.core.arguments import ArgumentsError, format_arguments, merge_arguments, parse_arguments


class TestParseArguments:
    @pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
    def test_blank_is_empty_object(self, text: str | None) -> None:
        """Blank arguments mean no arguments."""
        assert {} == parse_arguments(text)

    def test_object_is_returned(self) -> None:
        """A JSON object comes back as a dict with its nested values intact."""
        expected = {"days": 7, "to": ["a@example.com"], "dry": False, "opts": {"x": None}}
        text = '{"days": 7, "to": ["a@example.com"], "dry": false, "opts": {"x": null}}'
        assert expected == parse_arguments(text)

    @pytest.mark.parametrize(
        ("text", "line", "column"),
        [
            pytest.param('{"a": 1,}', 1, 9, id="trailing-comma"),
            pytest.param('{\n  "a": 1\n  "b": 2\n}', 3, 3, id="missing-comma-line-3"),
            pytest.param("{'a': 1}", 1, 2, id="single-quotes"),
            pytest.param('{"a": tru}', 1, 7, id="bad-literal"),
        ],
    )
    def test_syntax_error_names_line_and_column(self, text: str, line: int, column: int) -> None:
        """A syntax error reports the line and column where parsing stopped."""
        with pytest.raises(ArgumentsError) as info:
            parse_arguments(text, "Arguments")
        assert (line, column) == (info.value.line, info.value.column)
        assert f"at line {line}, column {column}" in info.value.message

    @pytest.mark.parametrize(
        ("text", "kind"),
        [("[1, 2]", "list"), ('"x"', "text"), ("3", "number"), ("true", "true/false value")],
    )
    def test_non_object_says_what_it_got(self, text: str, kind: str) -> None:
        """Valid JSON that is not an object is refused, saying what it was."""
        with pytest.raises(ArgumentsError) as info:
            parse_arguments(text, "Argument Overrides")
        expected = (
            f'Argument Overrides must be a JSON object such as {{"name": "value"}}, not a {kind}.'
        )
        assert expected == info.value.message

    def test_label_appears_in_message(self) -> None:
        """The field's label starts the message so the user knows which box is wrong."""
        with pytest.raises(ArgumentsError) as info:
            parse_arguments("{", "Argument Overrides")
        assert info.value.message.startswith("Argument Overrides is not valid JSON")


class TestMergeArguments:
    def test_overrides_replace_and_add(self) -> None:
        """Override keys replace the task's values; other task keys are kept."""
        expected = {"days": 1, "to": "ops@example.com", "dry": True}
        actual = merge_arguments({"days": 7, "to": "ops@example.com"}, {"days": 1, "dry": True})
        assert expected == actual

    def test_nested_values_are_replaced_whole(self) -> None:
        """A nested object in the overrides replaces the task's object (no deep merge)."""
        expected = {"opts": {"b": 2}}
        assert expected == merge_arguments({"opts": {"a": 1}}, {"opts": {"b": 2}})

    def test_inputs_are_not_modified(self) -> None:
        """Merging leaves both inputs untouched."""
        base, overrides = {"a": 1}, {"a": 2}
        merge_arguments(base, overrides)
        assert ({"a": 1}, {"a": 2}) == (base, overrides)


class TestFormatArguments:
    def test_empty_is_braces(self) -> None:
        """No arguments are shown as an empty object."""
        assert "{}" == format_arguments({})

    def test_pretty_and_unicode(self) -> None:
        """Arguments are pretty-printed and keep non-ASCII characters readable."""
        assert '{\n  "name": "Zoë"\n}' == format_arguments({"name": "Zoë"})
