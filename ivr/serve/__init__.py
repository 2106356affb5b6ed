"""The runtime of `pln123 serve`: signals, readiness, draining and hot reload for one site.

`ivr.cli.serve` parses the arguments; `ivr.serve.runtime` runs the process; the decision
of which settings a SIGHUP may apply while calls are in progress is `ivr.serve.reload`,
pure and unit-tested.
"""
