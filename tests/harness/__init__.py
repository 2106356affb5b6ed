"""Harnesses that run real things, shared by several test folders: an ACD on the test Redis,
the dashboard on a real port, an AMI login to a sandbox Asterisk, deadlines on the real
reactor. tests/unit imports none of them (tests/unit/test_tests_layout.py checks it).
"""
