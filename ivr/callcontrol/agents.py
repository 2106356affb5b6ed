"""This site's agents' phones in its Asterisk's AstDB, for the other sites' rings.

With national pooling another site rings one of our agents through the trunk as
`agent-<agent id>-<call id>`; the rendered `[pln123-trunk-in]` reads the agent's phone from
AstDB (AGENTS_FAMILY/<agent id>) and dials it, and refuses the ring when there is no entry.
So the roster (agent id -> endpoint) has to be in AstDB whenever a ring can come, which
`AgentDirectory.publish` keeps true: after every AMI login (a resync hook: the link was
down, Asterisk may have restarted or AstDB been edited) and after a config reload.

How it writes: the first publish of the process deletes the whole family (`DBDelTree`) and
then puts every agent, because what a previous process or an older roster left there is
not known here, and an agent removed from the roster must not stay reachable. Every later
publish puts every agent first and then deletes (`DBDel`) only the agents it wrote before
that are no longer in the roster: the family is never empty while calls ring, and a lent
agent's ring arriving during a reload still finds its phone. The first publish's short gap
(between the delete and the puts) only makes a ring arriving in it fail as a trunk failure,
which the ringing site retries.

Endpoints are written only when they are dial strings the dialplan can dial as they are
(`names.PHONE`): the trunk-in context passes the value to Dial() unfiltered. Failures are
logged, never raised: the next login or reload publishes again. Needs AMI write class
`system` (DBPut, DBDel, DBDelTree), as the heartbeat does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog
from twisted.internet.defer import Deferred, DeferredList, DeferredLock

from ivr.ami.errors import AMIActionError
from ivr.ami.protocol import AMIProtocol
from ivr.ami.service import AMIService
from ivr.dialplan.names import AGENT_ID, AGENTS_FAMILY, PHONE

log = structlog.get_logger("ivr.callcontrol.agents")


class AgentDirectory:
    def __init__(self, ami: AMIService, phones: Callable[[], Mapping[str, str]]):
        self.ami = ami
        self.phones = phones  # agent id -> endpoint ("": none), this site's roster now
        self.publishes = 0  # completed publishes (failed writes included)
        # Agent ids this process may have left in AstDB; None until the first publish
        # cleared the family.
        self._written: set[str] | None = None
        self._lock = DeferredLock()  # one publish at a time: a reload during a resync

    def __call__(self, _protocol: AMIProtocol) -> Deferred[None]:
        """As an AMIService resync hook: publish after every login."""
        return self.publish()

    def publish(self) -> Deferred[None]:
        """Write the roster's phones into AstDB; fires when done, never with a failure."""
        return self._lock.run(lambda: Deferred.fromCoroutine(self._publish()))

    async def _publish(self) -> None:
        wanted = self._wanted()
        if self._written is None:
            if not await self._delete_tree():
                return  # nothing written: the next publish starts from scratch again
            self._written = set()
        written = self._written
        puts = {agent: self._send("DBPut", {"Family": AGENTS_FAMILY, "Key": agent,
                                            "Val": phone})
                for agent, phone in wanted.items()}
        # Written or not, the agent may be in AstDB now: remember to delete it when it goes.
        written.update(wanted)
        gone = sorted(written - set(wanted))
        deletes = {agent: self._send("DBDel", {"Family": AGENTS_FAMILY, "Key": agent})
                   for agent in gone}
        put_ok = await _all(puts)
        deleted = await _all(deletes)
        written.difference_update(agent for agent, ok in deleted.items() if ok)
        self.publishes += 1
        failed = sorted(agent for agent, ok in put_ok.items() if not ok)
        log.info("agent_directory_published", agents=len(wanted) - len(failed),
                 removed=sum(deleted.values()), failed=failed or None)

    def _wanted(self) -> dict[str, str]:
        """The roster's agents whose id and endpoint the dialplan can take as they are."""
        wanted: dict[str, str] = {}
        try:
            roster = dict(self.phones())
        except Exception:  # a broken roster view must not break the resync
            log.exception("agent_directory_roster_failed")
            return wanted
        for agent, phone in roster.items():
            if not phone:
                continue  # an agent without a phone here is never rung from elsewhere
            if isinstance(agent, str) and isinstance(phone, str) \
                    and AGENT_ID.fullmatch(agent) and PHONE.fullmatch(phone):
                wanted[agent] = phone
            else:
                log.error("agent_directory_refused", agent=agent, phone=phone)
        return wanted

    async def _delete_tree(self) -> bool:
        """Clear the family; True when it is empty now (it may not have existed)."""
        try:
            await self.ami.send_action("DBDelTree", {"Family": AGENTS_FAMILY})
        except AMIActionError:
            return True  # Asterisk answered: nothing there to delete (see `_send`)
        except Exception as error:  # noqa: BLE001 - logged; the next login tries again
            log.error("agent_directory_not_cleared", error=str(error))
            return False
        return True

    def _send(self, action: str, fields: dict[str, str]) -> Deferred[bool]:
        """True once done, False on failure.

        A delete Asterisk answers with an error counts as done: AstDB reports an entry that
        is not there the same way as one it could not delete (Asterisk 22: `Database entry
        could not be deleted` for DBDel, `Database entry not found` for DBDelTree), and
        only the first happens to entries this process wrote. A delete that never reached
        Asterisk (no link, a timeout) is tried again at the next publish.
        """
        d: Deferred[object] = self.ami.send_action(action, fields)

        def failed(failure: object) -> bool:
            error = getattr(failure, "value", failure)
            if action == "DBDel" and isinstance(error, AMIActionError):
                return True
            log.warning("agent_directory_write_failed", action=action,
                        agent=fields.get("Key"), error=str(error))
            return False

        return d.addCallbacks(lambda _: True, failed)


async def _all(pending: dict[str, Deferred[bool]]) -> dict[str, bool]:
    """Each key's result once all are done (none of them fails: see `_send`)."""
    if not pending:
        return {}
    results = await DeferredList(list(pending.values()), consumeErrors=True)
    return {key: bool(ok and value) for key, (ok, value) in zip(pending, results, strict=True)}
