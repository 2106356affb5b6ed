"""The distributor: agents, queues, matching and national pooling, with no knowledge of Asterisk."""
