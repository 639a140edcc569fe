"""Time from process start to Quarry's window on screen: installed app vs ``python main.py``.

    .venv/bin/python packaging/measure_startup.py --installed /opt/quarry/quarry [--runs 5]

Both run with QUARRY_EXIT_WHEN_SHOWN=1 (see startup_probe.py), offscreen, with
fresh data and config folders and no documents folder, so each measures only
starting up: the interpreter, imports, Qt and the window. The first run of each
is reported apart (files not yet in the page cache; the page cache is dropped
first when this process may do so); the rest give a median.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SHOWN = re.compile(r"window shown after ([0-9.]+) s")
_FROM_SOURCE = (
    "import runpy, sys; sys.path.insert(0, 'packaging'); import startup_probe; "
    "startup_probe.install(); sys.argv = ['main.py']; "
    "runpy.run_path('main.py', run_name='__main__')"
)


def drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def once(cmd: list[str]) -> tuple[float, float]:
    """(seconds reported by the app when its window showed, wall seconds to exit)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": tmp,
            "QT_QPA_PLATFORM": "offscreen",
            "QUARRY_EXIT_WHEN_SHOWN": "1",
            "QUARRY_DATA_DIR": f"{tmp}/data",
            "QUARRY_CONFIG_DIR": f"{tmp}/config",
            "HF_HUB_OFFLINE": "1",
        }
        started = time.monotonic()
        r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        wall = time.monotonic() - started
    m = _SHOWN.search(r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{cmd[0]} did not show its window:\n{r.stderr[-2000:]}")
    return float(m.group(1)), wall


def measure(name: str, cmd: list[str], runs: int) -> None:
    dropped = drop_page_cache()
    first = once(cmd)
    rest = [once(cmd) for _ in range(runs - 1)]
    label = "cold (page cache dropped)" if dropped else "first run"
    print(f"{name:>16}: {label} {first[0]:.2f} s (wall {first[1]:.2f} s)", end="")
    if rest:
        print(
            f"; warm median {statistics.median(r[0] for r in rest):.2f} s "
            f"(wall {statistics.median(r[1] for r in rest):.2f} s, {len(rest)} runs)"
        )
    else:
        print()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--installed",
        type=Path,
        default=Path("/opt/quarry/quarry"),
        help="The installed program (default: %(default)s).",
    )
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--python", default=sys.executable, help="Python for main.py.")
    ns = p.parse_args()
    measure("installed app", [str(ns.installed)], ns.runs)
    measure("python main.py", [ns.python, "-c", _FROM_SOURCE], ns.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
