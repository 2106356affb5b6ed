"""Test doubles and builders shared across the test folders: fakes of our own interfaces
(telephony, the IVR's ACD and self-service, the AMI endpoint), never of Asterisk or Redis,
which the integration and end-to-end tests use for real. They start nothing, so tests/unit
may use them.
"""
