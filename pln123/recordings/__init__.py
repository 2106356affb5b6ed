"""Recorded conversations: noting where each is, deleting them when their time is up, and
finding one for the dashboard to play (docs/reports.md, "Recording").

Asterisk writes the files (MixMonitor, started by ivr/callcontrol); everything pln123 does
with them afterwards is here.
"""
