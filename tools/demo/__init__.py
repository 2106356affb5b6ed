"""`pln123 demo` and the stack it shares with `pln123 loadtest`: sandbox Asterisks, Redis,
the sites' `pln123 serve`, the dashboard, simulated agents and callers (docs/demo.md)."""
