"""Tests that run in this process on a Clock and start nothing: `./run check` runs them.

tests/unit/conftest.py refuses any test here that asks for a server.
"""
