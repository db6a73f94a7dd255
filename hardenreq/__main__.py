"""Run the command-line interface as ``python -m hardenreq``."""

from __future__ import annotations

from hardenreq.cli import main

if __name__ == "__main__":
    main()
