"""National pooling: a ready agent at any site of a pool answers the longest-waiting
caller of any site of it, local callers first, while their site keeps its reserve.

The matching itself is the ACD's Lua (acd/queues/lua: `offer` and `agent_ready` look at
the pool's other sites, `reserve_of` decides what a site may lend). Here: each site's
status for supervisors and admission control (`status`, `publisher`), the runtime lending
overrides (`lending`), the keeper that steps the auto reserve and lends what a lower
reserve frees (`keeper`), the ring requests another site's agents leave for this site's
processes (`rings`), and surge admission control on the pool's expected wait
(`admission`).
"""
