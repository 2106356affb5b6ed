"""A namespace of sandbox Asterisk instances, one per site, sharing one cached root.

Namespaces keep a developer's sandbox (`default`) and any number of test sessions
(`pytest-<pid>`) apart: separate folders, state files and ports in the same root.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.sandbox.build import DEFAULT_CACHE_DIR, BuildResult, build_root, cached_version, root_dir
from tools.sandbox.errors import SandboxError
from tools.sandbox.fs import remove_tree
from tools.sandbox.host import Host
from tools.sandbox.instance import STATE_FILE, Instance
from tools.sandbox.mirror import find_debian_mirror
from tools.sandbox.ports import free_port, tcp_port_free, udp_port_free
from tools.sandbox.prompts import SandboxPrompts, provide_prompts
from tools.sandbox.render import module_dir_in
from tools.sandbox.trunks import join_trunks

DEFAULT_NAMESPACE = "default"
AMI_BASE_PORT = 15038
IAX_BASE_PORT = 14569
SIP_BASE_PORT = 15060
SITE_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
NAMESPACE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def check_site(name: str) -> str:
    if not SITE_NAME.fullmatch(name):
        raise SandboxError(f"bad site name {name!r}: use [a-z][a-z0-9-]* (at most 32 characters)")
    return name


def check_namespace(name: str) -> str:
    if not NAMESPACE_NAME.fullmatch(name):
        raise SandboxError(f"bad namespace {name!r}: use [a-z0-9][a-z0-9-]* (at most 64)")
    return name


class Sandbox:
    """The instances of one namespace in the root cached under `cache_dir`."""

    def __init__(
        self,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        namespace: str = DEFAULT_NAMESPACE,
        host: Host | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.namespace = check_namespace(namespace)
        self.host = host or Host()
        self._live: dict[str, Instance] = {}
        self.prompts: SandboxPrompts | None = None  # what the last up() installed

    @property
    def root(self) -> Path:
        return root_dir(self.cache_dir)

    @property
    def namespace_dir(self) -> Path:
        return self.root / "srv" / "pln123" / self.namespace

    def build(
        self, mirror: str | None = None, report: Callable[[str], None] = print
    ) -> BuildResult:
        """The cached root, or a fresh one from `mirror` (default: this machine's apt mirror)."""
        if cached_version(self.root) is None:
            self.host.require_root("building the sandbox")
            self.host.require_debootstrap()
            mirror = mirror or find_debian_mirror()
        return build_root(self.cache_dir, mirror or "", host=self.host, report=report)

    def instances(self) -> list[Instance]:
        """Every instance with a state file in this namespace, in AMI port order."""
        found = []
        if self.namespace_dir.is_dir():
            for state in self.namespace_dir.glob(f"*/{STATE_FILE}"):
                loaded = Instance.load(state)
                # Prefer the object that holds the Popen, so stop() can reap its child.
                found.append(self._live.get(loaded.site, loaded))
        return sorted(found, key=lambda instance: (instance.ami_port, instance.site))

    def instance(self, site: str) -> Instance:
        for candidate in self.instances():
            if candidate.site == site:
                return candidate
        raise SandboxError(f"no site {site!r} in namespace {self.namespace!r}")

    def up(
        self,
        sites: Sequence[str],
        *,
        ami_base_port: int = AMI_BASE_PORT,
        iax_base_port: int = IAX_BASE_PORT,
        free_ports: bool = False,
        timeout: float = 30.0,
        sip: bool = False,
        sip_base_port: int = SIP_BASE_PORT,
        config_file: Path | None = None,
    ) -> list[Instance]:
        """Start (or keep) one Asterisk per site; site i gets ports base + i unless free_ports.

        `sip`: new instances also get a SIP port (UDP, loopback only) with the site's
        transport, carriers and agents (tools/sandbox/sip.py); without it no SIP port is
        opened. `config_file`: the admin config new instances render from (default: the
        shipped one).

        A site that is already running is left alone (but reloads IAX2 when a new site joins
        its trunks); a stopped or dead one restarts on its recorded ports. If any start
        fails, the instances started by this call are stopped. The prompts
        (tools.sandbox.prompts) are built if needed and installed first.
        """
        self.host.require_root("starting the sandbox")
        if cached_version(self.root) is None:
            raise SandboxError(f"no sandbox root at {self.root}; run: pln123 sandbox build")
        names = [check_site(site) for site in sites]
        if not names or len(set(names)) != len(names):
            raise SandboxError(f"give each site once: {','.join(names) or '(none)'}")
        # The IVR's prompts: built if changed, installed atomically into the shared root.
        # Missing espeak-ng/sox only warns: tests without prompts still run.
        self.prompts = provide_prompts(self.root)
        known = {instance.site: instance for instance in self.instances()}
        taken_tcp = {i.ami_port for i in known.values()}
        taken_udp = {i.iax_port for i in known.values()}
        taken_udp |= {i.sip_port for i in known.values() if i.sip_port is not None}
        wanted = []
        for index, site in enumerate(names):
            instance = known.get(site)
            if instance is None:
                sip_port = None
                if free_ports:
                    ami_port = free_port(socket.SOCK_STREAM, taken_tcp)
                    iax_port = free_port(socket.SOCK_DGRAM, taken_udp)
                    if sip:
                        sip_port = free_port(socket.SOCK_DGRAM, taken_udp | {iax_port})
                else:
                    ami_port, iax_port = ami_base_port + index, iax_base_port + index
                    sip_port = sip_base_port + index if sip else None
                instance = self._new(site, ami_port, iax_port, sip_port)
                if config_file is not None:
                    instance.config_file = config_file
            taken_tcp.add(instance.ami_port)
            taken_udp.add(instance.iax_port)
            if instance.sip_port is not None:
                taken_udp.add(instance.sip_port)
            wanted.append(instance)
        to_start = [instance for instance in wanted if not instance.is_running()]
        self._check_ports(to_start)
        module_dir = module_dir_in(self.root)
        started: list[Instance] = []
        try:
            for instance in to_start:
                started.append(instance)
                self._live[instance.site] = instance
                instance.prepare(module_dir)
            # Every instance (new ones before they read it) gets trunks to all the others;
            # the running ones that gained a peer reload IAX2.
            join_trunks(self.instances())
            for instance in started:
                instance.launch()
            for instance in started:
                instance.wait_ready(timeout)
        except BaseException:
            for instance in started:
                instance.stop()
            raise
        return wanted

    def down(self, timeout: float = 10.0) -> list[Instance]:
        """Stop every instance by PID and delete the namespace's folders."""
        stopped = self.instances()
        # Asterisk takes about half a second to shut down cleanly: stop them side by side.
        with ThreadPoolExecutor(max_workers=max(1, len(stopped))) as pool:
            list(pool.map(lambda instance: instance.stop(timeout), stopped))
        self._live.clear()
        remove_tree(self.namespace_dir)
        return stopped

    def _new(self, site: str, ami_port: int, iax_port: int, sip_port: int | None = None
             ) -> Instance:
        for port in (ami_port, iax_port, sip_port or 1):
            if not 1 <= port <= 65535:
                raise SandboxError(f"{site}: port {port} is out of range")
        return Instance(self.root, self.namespace, site, ami_port, iax_port,
                        sip_port=sip_port)

    def _check_ports(self, instances: Sequence[Instance]) -> None:
        ami = [i.ami_port for i in instances]
        udp = [i.iax_port for i in instances] + [i.sip_port for i in instances
                                                 if i.sip_port is not None]
        if len(set(ami)) != len(ami) or len(set(udp)) != len(udp):
            raise SandboxError("two sites would share a port; choose other base ports")
        for instance in instances:
            if not tcp_port_free(instance.ami_port):
                raise SandboxError(
                    f"{instance.site}: AMI port {instance.ami_port} on 127.0.0.1 is in use "
                    "(another sandbox? see `pln123 sandbox status`); use --ami-base-port "
                    "or another --namespace"
                )
            if not udp_port_free(instance.iax_port):
                raise SandboxError(
                    f"{instance.site}: IAX2 port {instance.iax_port}/udp on 127.0.0.1 is in "
                    "use; use --iax-base-port or another --namespace"
                )
            if instance.sip_port is not None and not udp_port_free(instance.sip_port):
                raise SandboxError(
                    f"{instance.site}: SIP port {instance.sip_port}/udp on 127.0.0.1 is in "
                    "use; use --sip-base-port or another --namespace"
                )
