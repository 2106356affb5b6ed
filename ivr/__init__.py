"""Everything in pln123 that talks to Asterisk: AMI, AsyncAGI, menus, call control."""
