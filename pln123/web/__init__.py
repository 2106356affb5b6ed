"""The supervisors' live queue dashboard: pages, JSON API, Server-Sent Events, /metrics.

It only reads and writes Redis (no Asterisk): agent commands go through each site's
command stream to the site's pln123. See docs/dashboard.md; `build_dashboard` is the entry.
"""

from pln123.web.accounts import Role, Supervisor, hash_password
from pln123.web.root import API_ROUTES, Dashboard, build_dashboard
from pln123.web.views import DashboardSite

__all__ = ["API_ROUTES", "Dashboard", "DashboardSite", "Role", "Supervisor",
           "build_dashboard", "hash_password"]
