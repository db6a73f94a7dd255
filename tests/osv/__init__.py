"""The loopback OSV API the advisory tests run against, and the real records it serves."""

from .server import RECORDS, OsvServer, Request, load_records, matches

__all__ = ["RECORDS", "OsvServer", "Request", "load_records", "matches"]
