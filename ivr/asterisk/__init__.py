"""Asterisk configuration rendered from the admin config (manager.conf, PJSIP, trunks)."""
