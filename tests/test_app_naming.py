"""Series names: which counter a BTU document name belongs to."""

from __future__ import annotations

import pytest

from btu.core.naming import series_counter


@pytest.mark.parametrize(
    ("autoname", "name", "expected"),
    [
        pytest.param("TS-.######", "TS-000042", ("TS-", 42), id="schedule"),
        pytest.param("RL-.######", "RL-000001", ("RL-", 1), id="run-later"),
        pytest.param("TL-.########", "TL-12345678", ("TL-", 12345678), id="log"),
        pytest.param("TS-.######", "TS-1000000", ("TS-", 1000000), id="past-width"),
        pytest.param("TS-.######", "TS-42", None, id="too-short"),
        pytest.param("TS-.######", "RL-000001", None, id="other-prefix"),
        pytest.param("TS-.######", "TS-00004a", None, id="not-digits"),
        pytest.param("field:title", "Nightly", None, id="not-a-series"),
        pytest.param("", "x", None, id="no-autoname"),
    ],
)
def test_series_counter(autoname: str, name: str, expected: tuple[str, int] | None) -> None:
    """Names under an old-style expression give their Series key and number."""
    assert expected == series_counter(autoname, name)
