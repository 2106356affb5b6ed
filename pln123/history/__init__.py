"""The call history in SQL: every entry of the sites' audit streams, and one row per call.

The ACD appends every change of a call or an agent to its site's audit stream, atomically
with the counters the live figures read (acd/queues/lua). Redis keeps those counters for a
month and the stream only up to its bound, so anything older than "today" needs a store
made for it: `pln123 archive` copies each entry into SQL (PostgreSQL in production, a
SQLite file by default) exactly once, and `pln123 report` reads it back with the same
metric definitions as the dashboard (acd.queues.metrics). docs/reports.md has the reports'
columns.
"""

GROUP = "history"   # the audit streams' consumer group the archiver reads with
BATCH = 500         # entries per read and per transaction
