"""The sandbox as a user drives it: the real `pln123 sandbox` CLI in a subprocess, and two
real Asterisk instances calling each other over the IAX2 trunk."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.asterisk_sandbox import SandboxSession
from tools.sandbox import ADMIN_USER, PLN123_USER, Instance, SandboxError
from tools.sandbox.process import alive

pytestmark = pytest.mark.asterisk


def pln123(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pln123.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"pln123 {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def table(output: str) -> list[dict[str, str]]:
    """Rows of the SITE/AMI/IAX2/PID/STATE table in `up` and `status` output."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("SITE"))
    header = lines[start].lower().split()
    rows = []
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) != len(header):
            break
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def mounts_under(root: Path) -> int:
    text = Path("/proc/mounts").read_text()
    return sum(1 for line in text.splitlines() if str(root) in line)


def namespace_pids(namespace: str) -> list[int]:
    """Live processes whose command line names this namespace's config (any program)."""
    marker = f"/srv/pln123/{namespace}/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in argv and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid)]
    return left


def test_up_status_down_leaves_nothing_behind(sandbox_root: SandboxSession) -> None:
    namespace = f"pytest-cli-{os.getpid()}"
    root = sandbox_root.sandbox.root
    mounts_before = mounts_under(root)
    try:
        up = pln123("sandbox", "up", "--sites", "palembang,medan", "--namespace", namespace,
                    "--free-ports")  # fmt: skip
        assert sorted(row["site"] for row in table(up.stdout)) == ["medan", "palembang"]

        status = table(pln123("sandbox", "status", "--namespace", namespace).stdout)
        assert sorted(row["site"] for row in status) == ["medan", "palembang"]
        assert all(row["state"] == "running" for row in status)
        assert len({row["ami"] for row in status}) == 2
        assert len({row["iax2"] for row in status}) == 2
        pids = [int(row["pid"]) for row in status]
        assert len(set(pids)) == 2
        assert sorted(pids) == sorted(namespace_pids(namespace))
        for pid in pids:
            assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == b"asterisk"

        down = pln123("sandbox", "down", "--namespace", namespace)
        assert "stopped palembang" in down.stdout
        assert "stopped medan" in down.stdout
        assert wait_until_gone(pids, 10.0) == []
        assert namespace_pids(namespace) == []
        assert mounts_under(root) == mounts_before
        assert not (root / "srv" / "pln123" / namespace).exists()
        again = pln123("sandbox", "status", "--namespace", namespace)
        assert "no sandbox instances" in again.stdout
    finally:
        pln123("sandbox", "down", "--namespace", namespace, check=False)


def test_up_refuses_a_port_in_use(sandbox_root: SandboxSession) -> None:
    namespace = f"pytest-busy-{os.getpid()}"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            result = pln123("sandbox", "up", "--sites", "palembang", "--namespace", namespace,
                            "--ami-base-port", str(port), check=False)  # fmt: skip
        finally:
            pln123("sandbox", "down", "--namespace", namespace, check=False)
    assert result.returncode == 2
    assert f"AMI port {port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_iax2_trunk_between_two_sites(asterisk_sandbox: SandboxSession) -> None:
    palembang, medan = asterisk_sandbox.sites("palembang", "medan")
    with medan.ami(events="user") as arrivals, palembang.ami() as caller:
        response = caller.action(
            "Originate",
            {
                "Channel": f"IAX2/pln-trunk@127.0.0.1:{medan.iax_port}/ovf-c42",
                "Application": "Wait",
                "Data": "5",
                "CallerID": "0711555",
                "Async": "true",
            },
        )
        assert response["Response"] == "Success"
        event = arrivals.wait_event("UserEvent", 10.0, UserEvent="PlnTrunkArrival")
    assert event["exten"] == "ovf-c42"
    assert event["site"] == "medan"
    assert event["callerid"] == "0711555"
    assert "ovf-c42@pln-trunk-in" in medan.cli("core show channels")


def test_pln123_user_has_least_privilege(asterisk_site: Instance) -> None:
    with asterisk_site.ami(PLN123_USER) as ami:
        assert ami.action("Command", {"Command": "core show version"})["Message"] == (
            "Permission denied"
        )
        assert ami.action("UpdateConfig", {"SrcFilename": "manager.conf",
                                           "DstFilename": "manager.conf",
                                           "Reload": "no"})["Message"] == "Permission denied"
        assert ami.action("CoreShowChannels")["Response"] == "Success"
    with asterisk_site.ami(ADMIN_USER) as admin:
        assert "Asterisk 22" in admin.command("core show version")


def test_restart_keeps_ports_and_secrets(asterisk_sandbox: SandboxSession) -> None:
    instance = asterisk_sandbox.site("jakarta")
    before = (instance.ami_port, instance.iax_port, instance.admin_secret, instance.pid)
    instance.stop()
    assert instance.status() == "stopped"
    assert before[3] is not None and wait_until_gone([before[3]], 5.0) == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", instance.ami_port), timeout=1).close()
    instance.start()
    assert (instance.ami_port, instance.iax_port, instance.admin_secret) == before[:3]
    assert instance.pid != before[3]
    with instance.ami() as ami:
        assert ami.action("Ping")["Ping"] == "Pong"


def test_unknown_site_is_a_clear_error(asterisk_sandbox: SandboxSession) -> None:
    with pytest.raises(SandboxError, match="no site 'nowhere'"):
        asterisk_sandbox.sandbox.instance("nowhere")
