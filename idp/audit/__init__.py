"""The tamper-evident audit log: recording, verification, export."""

from idp.audit.log import record
from idp.audit.vocabulary import EVENT_TYPES, register_event_types

__all__ = ["EVENT_TYPES", "record", "register_event_types"]
