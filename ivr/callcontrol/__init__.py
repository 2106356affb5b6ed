"""Carrying out the ACD's decisions on Asterisk: ring agents, bridge, announce, hold."""
