"""Multi-site routing: site status, the interflow policy, moving calls, admission.

`status` publishes and reads what each site can do now; `policy` decides, as a pure
function, whether and where a waiting call should move; `moves` carries a call's context
between sites in Redis; `monitor` re-evaluates a site's waiting calls on the clock.
"""
