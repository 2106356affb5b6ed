"""Our own AMI client on bytes: framing, message model, safe actions, AsyncAGI, reconnects."""

from ivr.ami.actions import ActionRejected, encode_action, escape_variable_value, variable_header
from ivr.ami.agi import AGIResult, AGISession, AsyncAGIRouter, parse_agi_result, quote_agi_arg
from ivr.ami.errors import (
    AMIActionError,
    AMIAuthError,
    AMIConnectionLost,
    AMIError,
    AMINotConnected,
    AMITimeout,
)
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol, ListResult
from ivr.ami.service import AMICredentials, AMIService

__all__ = [
    "AGIResult",
    "AGISession",
    "AMIActionError",
    "AMIAuthError",
    "AMIConnectionLost",
    "AMICredentials",
    "AMIError",
    "AMINotConnected",
    "AMIProtocol",
    "AMIService",
    "AMITimeout",
    "ActionRejected",
    "AsyncAGIRouter",
    "EventDispatcher",
    "ListResult",
    "Message",
    "encode_action",
    "escape_variable_value",
    "parse_agi_result",
    "quote_agi_arg",
    "variable_header",
]
