"""Integrations with optional third-party packages, each behind its extra."""
