"""`pln123 loadtest`: concurrent callers against the real stack (sandbox Asterisk, Redis,
`pln123 serve` processes); offered/answered/lost, CPU per call, AMI events/s, decision
latency. Method and results: docs/benchmarks.md."""
