"""The portal's small durable outbox: messages to the support team, written in the request's transaction and sent
by ``portal deliver`` (SMTP), retried with a growing delay, never inside a voter's request."""
