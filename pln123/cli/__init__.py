"""The `pln123` command line: one sub-command module per verb group."""
