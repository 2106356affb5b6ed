"""The runtime of `pln123 serve`: signals, readiness, draining and hot reload for one site.

`pln123.cli.serve` parses the arguments; `pln123.serve.runtime` runs the process; the decision
of which settings a SIGHUP may apply while calls are in progress is `pln123.serve.reload`,
pure and unit-tested.
"""
