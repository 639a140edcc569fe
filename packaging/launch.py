"""Entry point of the installed app: the same ``main.main`` as ``python main.py``.

A frozen program that starts worker processes (PDF extraction) must let
``multiprocessing`` take over a child before anything else runs, or each child
would start another copy of Quarry.
"""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from main import main

    sys.exit(main())
