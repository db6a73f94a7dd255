"""Lock formats: one Lock model (``model``), two writers and readers of it.

``requirements`` is the requirements.txt format (``--hash`` lines, markers, ``# via``
notes); ``pylock`` is PEP 751's pylock.toml, which also records each file's name, URL,
size and upload time. ``flows`` joins them to the core's harden, refresh and verify;
``convert`` turns a lock of one format into the other.
"""

from hardenreq.lockfile.model import Lock, LockedFile, LockedPackage, LockOrigin
from hardenreq.lockfile.pylock import is_pylock_path

__all__ = ["Lock", "LockOrigin", "LockedFile", "LockedPackage", "is_pylock_path"]
