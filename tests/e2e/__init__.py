"""Tests against the Asterisk 22 sandbox (built on first use, needs root)."""
