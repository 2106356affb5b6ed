"""A stand-in for APKT, PLN's complaint application: a real HTTP server process honouring
docs/apkt.md, for the tests and the demo (`python -m tools.apkt_standin --help`)."""
