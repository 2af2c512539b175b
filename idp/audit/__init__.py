"""The IdP's tamper-evident audit log: its vocabulary and table, recorded, verified and exported by :mod:`hashchain`."""

from idp.audit.log import LOG, bind_chains, queue_record, record, verify
from idp.audit.vocabulary import EVENT_TYPES, register_event_types

__all__ = ["EVENT_TYPES", "LOG", "bind_chains", "queue_record", "record", "register_event_types", "verify"]
