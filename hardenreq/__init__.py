"""hardenreq: harden pip requirements files against supply-chain tampering."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
