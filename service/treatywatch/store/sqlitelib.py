"""sqlite-utils, imported without numpy.

sqlite-utils imports numpy when it is installed, to map numpy's scalar types to column types: 80 ms of every
start, and this process stores none (the language model's numbers reach the store as Python floats). numpy is
installed for the language model (matching/langmodel.py), which the daemon's main process, storing what its poll
workers read, never loads. So sqlite-utils is imported with numpy hidden, unless something imported numpy first.
"""

from __future__ import annotations

import sys

if "numpy" in sys.modules:
    import sqlite_utils
else:
    sys.modules["numpy"] = None  # type: ignore[assignment]  # import's own "not installed" marker
    try:
        import sqlite_utils
    finally:
        del sys.modules["numpy"]

__all__ = ["sqlite_utils"]
