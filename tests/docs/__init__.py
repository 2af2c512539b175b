"""The documentation site: it builds without a warning, and its generated pages match the code."""
