"""Tests on a real Redis (one server, Sentinel, Cluster) or with pln123 run as a process;
never Asterisk, never a browser.
"""
