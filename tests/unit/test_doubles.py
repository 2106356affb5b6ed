"""The shared builders are what the tests that use them assume."""

from __future__ import annotations

from tests.doubles.acd import SITE


def test_site_of_the_helpers() -> None:
    assert SITE == "palembang"
