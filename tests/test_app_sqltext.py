"""SQL text for the runner's single-row reads and writes (btu.core.sqltext)."""

from __future__ import annotations

import pytest

from btu.core import sqltext


class TestSelect:
    def test_all_columns_by_name(self) -> None:
        """``*`` selects every column of the doctype's table, by name."""
        assert "select * from `tabBTU Task Log` where `name`=%s" == sqltext.select_by_name(
            "BTU Task Log"
        )

    def test_listed_fields_quoted_in_order(self) -> None:
        """Listed fields are back-quoted, in the order given."""
        assert (
            "select `function_path`, `run_as` from `tabBTU Task` where `name`=%s"
            == sqltext.select_by_name("BTU Task", ["function_path", "run_as"])
        )

    def test_one_field_as_text(self) -> None:
        """A single field name is one column, not its characters."""
        assert "select `enabled` from `tabUser` where `name`=%s" == sqltext.select_by_name(
            "User", "enabled"
        )

    def test_many_names_one_placeholder_each(self) -> None:
        """``select_by_names`` has one placeholder per name."""
        assert (
            "select `name`, `enabled` from `tabBTU Task` where `name` in (%s, %s, %s)"
            == sqltext.select_by_names("BTU Task", ["name", "enabled"], 3)
        )


class TestUpdate:
    def test_values_then_name(self) -> None:
        """One placeholder per field, in order, then the name's."""
        assert (
            "update `tabBTU Task Log` set `status`=%s, `modified`=%s where `name`=%s"
            == sqltext.update_by_name("BTU Task Log", ["status", "modified"])
        )

    def test_single_value(self) -> None:
        """A Single's field is read from tabSingles by doctype and field."""
        assert "`tabSingles`" in sqltext.single_value()
        assert 2 == sqltext.single_value().count("%s")


@pytest.mark.parametrize(
    ("call", "args"),
    [
        pytest.param(sqltext.table, ("BTU`; drop table x; --",), id="backquote-in-doctype"),
        pytest.param(sqltext.table, ("",), id="empty-doctype"),
        pytest.param(sqltext.column, ("status`=1, `x",), id="backquote-in-field"),
        pytest.param(sqltext.column, ("Status",), id="upper-case-field"),
        pytest.param(sqltext.select_by_name, ("BTU Task", []), id="no-fields"),
        pytest.param(sqltext.update_by_name, ("BTU Task", []), id="nothing-to-update"),
        pytest.param(sqltext.select_by_names, ("BTU Task", ["name"], 0), id="no-names"),
    ],
)
def test_refused(call, args) -> None:
    """Names that are not plain identifiers, and empty lists, are refused by name."""
    with pytest.raises(sqltext.SqlTextError):
        call(*args)
