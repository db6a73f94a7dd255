"""Package indexes: which one pip would use, the HTTP client, and the release sources."""

from __future__ import annotations
