"""What a SIPp caller sends: its scenario and its media, shared by `pln123 loadtest --sip`
and the SIP end-to-end tests (tests/harness/sip.py).

Keys are RTP events from the captures Debian's sip-tester ships (`dtmf_2833_<key>.pcap`,
one RFC 4733 event each); the caller's voice is the shipped `g711a.pcap` (PCMA) over and
over. `media_capture` joins them into one capture per scenario, renumbered as one RTP
stream, which SIPp plays with `play_pcap_audio` at answer (see there why).

A scenario's caller number is fixed, or `INJECTED`: each call takes the next line of an
injection file (`-inf`), so every caller of a load has a number of its own and the ACD's
call records can be matched to SIPp's calls. With `journal=True` the scenario logs
`dial <number>` before its INVITE and `done <number>` once the call ended as scripted
(`-trace_logs`): the calls that failed are the numbers dialled and never done.
"""

from __future__ import annotations

import re
import shutil
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CAPTURES = Path("/usr/share/sip-tester")
VOICE = CAPTURES / "g711a.pcap"
KEY_FILES = {**{str(d): f"dtmf_2833_{d}.pcap" for d in range(10)},
             "*": "dtmf_2833_star.pcap", "#": "dtmf_2833_pound.pcap"}
INJECTED = "[field0]"    # the caller number from the injection file's line for the call
FRAME_S = 0.03           # g711a.pcap: 240 bytes of PCMA every 30 ms
NUMBER = re.compile(r"\+?[0-9]{3,15}")
_HEADER = re.compile(r"X-[A-Za-z0-9-]{1,40}")
_HEADER_VALUE = re.compile(r"[0-9]{1,8}")


def missing_sipp() -> str | None:
    """Why SIPp cannot place calls here (for skip_or_fail or a usage error), or None."""
    if shutil.which("sipp") is None:
        return "sipp is not installed: apt-get install sip-tester"
    missing = [name for name in ("g711a.pcap", *KEY_FILES.values())
               if not (CAPTURES / name).is_file()]
    if missing:
        return f"sip-tester's captures are missing under {CAPTURES}: {', '.join(missing)}"
    return None


@dataclass(frozen=True)
class Key:
    """Press `key` (an RFC 4733 event from the shipped capture), then wait `wait_s`."""

    key: str
    wait_s: float = 0.5


def keys(text: str, wait_s: float = 0.5) -> list[Key]:
    """`"21"` as keys pressed `wait_s` apart; `w` in the text waits 0.5 s more."""
    out: list[Key] = []
    for char in text:
        if char == "w":
            if not out:
                raise ValueError("a key sequence cannot start with a wait")
            out[-1] = Key(out[-1].key, out[-1].wait_s + 0.5)
        elif char in KEY_FILES:
            out.append(Key(char, wait_s))
        else:
            raise ValueError(f"not a key: {char!r}")
    return out


def read_rtp(capture: Path) -> list[tuple[float, bytes]]:
    """(seconds from the first packet, RTP packet) of a classic pcap of Ethernet/IPv4/UDP."""
    data = capture.read_bytes()
    if struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
        raise ValueError(f"{capture}: not a little-endian classic pcap")
    offset, packets, first = 24, [], None
    while offset + 16 <= len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        ip = frame[14:]
        udp = ip[(ip[0] & 0x0F) * 4:]
        stamp = seconds + micros / 1e6
        first = stamp if first is None else first
        packets.append((stamp - first, udp[8:]))
    return packets


def media_capture(target: Path, keys_then: Sequence[Key], *, first_key_after_s: float,
                  talk_s: float) -> float:
    """Write the caller's whole media as one capture SIPp plays at answer: the shipped voice
    until the first key, each key's RFC 4733 event packets as shipped, voice between keys,
    then `talk_s` s of voice. Returns its length in seconds.

    The payloads are the shipped ones; the RTP headers are renumbered into one stream (one
    SSRC, sequence numbers and timestamps running on). Played as they are, the captures'
    own numbers jump back and forth between keys, and Asterisk discards a packet whose
    sequence number is behind the last one: most keys would be lost.
    """
    voice = [payload[12:] for _, payload in read_rtp(VOICE)]
    stream = _Stream()

    def talk(seconds: float) -> None:
        end = stream.t + seconds
        while stream.t < end:
            stream.emit(8, voice[stream.voice % len(voice)], stream.ts, stream.t)
            stream.voice += 1
            stream.t += FRAME_S
            stream.ts += 240

    talk(first_key_after_s)
    for key in keys_then:
        event = read_rtp(CAPTURES / KEY_FILES[key.key])
        start_t, start_ts = stream.t, stream.ts
        for index, (offset, packet) in enumerate(event):
            stream.emit(packet[1] & 0x7F, packet[12:], start_ts, start_t + offset,
                        marker=index == 0)
        stream.t = start_t + event[-1][0] + 0.02
        stream.ts = start_ts + int((stream.t - start_t) * 8000)
        talk(key.wait_s)
    talk(talk_s)
    out = stream.packets
    frames = b"".join(_frame(at, packet) for at, packet in out)
    target.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + frames)
    return stream.t


@dataclass
class _Stream:
    """One RTP stream being written: its clock, next sequence number and timestamp."""

    t: float = 0.0
    seq: int = 1000
    ts: int = 8000
    voice: int = 0
    packets: list[tuple[float, bytes]] = field(default_factory=list)

    def emit(self, payload_type: int, payload: bytes, timestamp: int, at: float,
             marker: bool = False) -> None:
        header = struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | payload_type,
                             self.seq & 0xFFFF, timestamp & 0xFFFFFFFF, 0x504C4E31)
        self.packets.append((at, header + payload))
        self.seq += 1


def _frame(at: float, rtp: bytes) -> bytes:
    """One Ethernet/IPv4/UDP frame with a pcap record header (10.0.0.1:6000 -> :6000)."""
    udp = struct.pack(">HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    total = sum(struct.unpack(">10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    header = header[:10] + struct.pack(">H", ~total & 0xFFFF) + header[12:]
    frame = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + header + udp
    seconds = int(at)
    return struct.pack("<IIII", seconds, int((at - seconds) * 1e6), len(frame),
                       len(frame)) + frame


def _log(message: str) -> str:
    return f'  <nop><action><log message="{message}"/></action></nop>\n'


def scenario(media: Path, media_s: float, *, hang_up: str = "caller",
             caller: str = "+6281100000001", header: tuple[str, str] | None = None,
             journal: bool = False) -> str:
    """A SIPp UAC scenario: INVITE with PCMA and telephone-event/8000 (PT 101, as the
    captures), the media capture played at answer. `hang_up`: "caller" sends BYE when it
    ends; "agent" waits up to a minute more for Asterisk's BYE. `caller`: a number or
    INJECTED; `journal`: log each call's number when dialled and when done."""
    if caller != INJECTED and not NUMBER.fullmatch(caller):
        raise ValueError(f"not a caller number: {caller!r}")
    if hang_up not in ("caller", "agent"):
        raise ValueError(f"hang_up is caller or agent, not {hang_up!r}")
    if not media_s > 0:
        raise ValueError(f"the media must last, not {media_s!r} s")
    extra = ""
    if header is not None:
        name, value = header
        if not _HEADER.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            raise ValueError(f"refusing header {header!r}")
        extra = f"{name}: {value}\n      "
    steps = f'  <nop><action><exec play_pcap_audio="{media}"/></action></nop>'
    if hang_up == "caller":
        ending = f"""
  <pause milliseconds="{int(media_s * 1000)}"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 2 BYE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>"""
    else:
        ending = f"""
  <recv request="BYE" timeout="{int((media_s + 60) * 1000)}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>"""
    dialled = _log(f"dial {caller}") if journal else ""
    done = "\n" + _log(f"done {caller}").rstrip("\n") if journal else ""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="pln123 caller">
{dialled}  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Pelanggan" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      {extra}Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=pln123 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 1 ACK
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
{steps}{ending}{done}
</scenario>
"""


def free_udp(address: str, even: bool = False) -> int:
    """A UDP port free on `address` (SIPp wants an even media port: RTP, then RTCP)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
            port: int = sock.getsockname()[1]
        if even and (port % 2 or port + 2 > 65535):
            continue
        return port
    raise RuntimeError(f"no free UDP port on {address}")
