"""The distributor: agents, queues, matching and overflow, with no knowledge of Asterisk."""
