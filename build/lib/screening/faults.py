"""Named crash points for the crash-safety tests: `OSTEOSCREEN_CRASH_AT=name` SIGKILLs the process there.

Without the variable set this is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal


def crashpoint(name: str) -> None:
    if os.environ.get("OSTEOSCREEN_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
