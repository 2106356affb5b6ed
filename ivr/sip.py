"""A site's SIP side as the admin config describes it: the PJSIP transport its Asterisk
listens on and the carrier trunks that deliver the public's 123 calls (`sites.<name>.sip`).

Values only; `pln123/config/sip.py` parses and checks them, `ivr/asterisk/carriers.py`
renders them. Kept out of `ivr.settings` so that module stays about the IVR.

The called number a carrier sends comes in one of three formats (`NUMBER_FORMATS`); a trunk
lists the ones it sends and the rendered context accepts exactly those:

- `national`: `0711123`, area code with its trunk prefix 0, then 123: what Indonesian
  carriers send on a national interconnect, and what the site's dialplan is keyed by.
- `e164`: `+62711123`, and the same without the `+` (`62711123`): international format,
  sent by SIP carriers that normalise to E.164; some strip the `+` in the Request-URI.
- `local`: plain `123`, as dialled on an area's local trunk: the area code comes from a
  header the carrier adds (`area_code_header`), else from the trunk's own region
  (`area_code`).

Anything else is answered 404 by Asterisk (no such extension): a number pln123 cannot place
in an area must not reach the IVR with a guessed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NumberFormat = Literal["national", "e164", "local"]
NUMBER_FORMATS: tuple[NumberFormat, ...] = ("national", "e164", "local")
DEFAULT_NUMBERS: tuple[NumberFormat, ...] = ("national", "e164")
COUNTRY_CODE = "62"  # Indonesia: +62 711 123 is 0711 123
SIP_PORT = 5060
DEFAULT_TRANSPORT = "pln123-udp"


@dataclass(frozen=True)
class CarrierTrunk:
    """One carrier's SIP trunk into a site (`sites.<name>.sip.carriers.<carrier>`)."""

    name: str  # the PJSIP endpoint's name: `PJSIP/<number>@<name>` dials out through it
    sources: tuple[str, ...]  # IP addresses or networks its calls come from (identify)
    numbers: tuple[NumberFormat, ...] = DEFAULT_NUMBERS
    area_code: str = ""  # the trunk's region: plain 123 without the header goes here
    area_code_header: str = ""  # a SIP header carrying the caller's area code (local)
    codecs: tuple[str, ...] = ("alaw",)
    contact: str = ""  # `host` or `host:port` calls to the carrier go to; empty: inbound only


@dataclass(frozen=True)
class SipSettings:
    """`sites.<name>.sip`: where the site's Asterisk listens for SIP and who may call it."""

    bind: str  # an IP address; 0.0.0.0 listens on every interface
    port: int = SIP_PORT
    carriers: tuple[CarrierTrunk, ...] = ()
