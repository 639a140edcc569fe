"""Quarry: ask questions of a folder of documents, offline.

python main.py --docs ./folder                   open the window on a folder
python main.py --docs ./folder --search "..."    print the passages that match
python main.py --docs ./folder --ask "..."       print a cited answer
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    # Offline is a promise: never let a library reach for a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # onnxruntime otherwise writes a telemetry device id under ~/.cache/Microsoft.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    from rag.cli import run

    return run(sys.argv[1:] if argv is None else argv, open_window=_open_window)


def _open_window(settings, folder, smoke_test: bool) -> int:
    from app import qt_check

    # Qt aborts with a message that names no package when a system library is missing;
    # say which packages to install instead, before Qt is loaded.
    problem = qt_check.check()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from app import run as run_window

    return run_window(settings, folder, smoke_test=smoke_test)


if __name__ == "__main__":
    sys.exit(main())
