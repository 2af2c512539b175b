"""Reading metrics in tests: a sample's value from this process's registry, a scrape's text, a port of our own."""

from __future__ import annotations

import random
import socket

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

#: The metrics tests' ports (the machine's helpers share it: each has a range).
PORT_RANGE = (25000, 25999)


def value(name: str, **labels: str) -> float:
    """The current value of sample ``name`` with ``labels`` in this process (0 when never recorded)."""
    found = REGISTRY.get_sample_value(name, labels)
    return float(found or 0.0)


def scraped(text: str, name: str, **labels: str) -> float:
    """The sum of samples ``name`` whose labels include ``labels`` in an exposition ``text``."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == wanted for key, wanted in labels.items()):
                total += sample.value
    return total


def free_port() -> int:
    """A free port of :data:`PORT_RANGE` on the loopback."""
    candidates = list(range(*PORT_RANGE))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in the metrics tests' range")
