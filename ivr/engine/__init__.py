"""The IVR: one session per AsyncAGI channel, driven by the admin config's menu tree."""
