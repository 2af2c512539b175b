"""One test per module of the OpenID Foundation conformance suite's OP plans (see docs/integrators/conformance.md)."""
