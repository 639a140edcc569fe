"""How indexing progress reads to a person: durations, time left, and the two-phase line.

One home for these rules: the command line's progress bar and the window's library
panel both print the lines made here, so they never disagree about what "about
6 min left" means. The core estimates the time left (it knows the rate of the
phase that is running); this module only words it.
"""

from __future__ import annotations

from rag.types import IndexProgress


def format_duration(seconds: float) -> str:
    """'45 s', '6 min 05 s', '1 h 05 min': whole units a person reads at a glance."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def format_eta(seconds: float | None) -> str:
    """'about 6 min left' rounded to what an estimate is worth ('' when unknown)."""
    if seconds is None or seconds < 0:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return "less than a minute left" if seconds >= 5 else "a few seconds left"
    if seconds < 3600:
        return f"about {max(1, round(seconds / 60))} min left"
    return f"about {seconds // 3600} h {seconds % 3600 // 60:02d} min left"


def estimate_left(done: float, total: float, elapsed: float) -> float | None:
    """Seconds left at the rate so far (None until there is a rate to go by)."""
    if done <= 0 or elapsed <= 0 or total <= done:
        return None
    return elapsed / done * (total - done)


def status_line(done: int, total: int, detail: IndexProgress | None) -> str:
    """One line for either phase of indexing.

    Reading: '12 of 46 files read · 1,204 chunks · about 2 min left'.
    Embedding: 'all 46 files searchable · meaning index 35%, about 6 min left'.
    """
    if detail is None:
        return f"{done} of {total} files"
    if detail.stage == "scanning":
        return "Scanning the folder…"
    if detail.stage == "waiting":
        return "Waiting for another Quarry to finish updating this index…"
    if detail.stage == "embedding":
        pct = int(100 * done / total) if total else 100
        files = detail.files_ready
        head = f"all {files:,} file{'s' if files != 1 else ''} searchable"
        eta = format_eta(detail.eta)
        return f"{head} · meaning index {pct}%" + (f", {eta}" if eta else "")
    if detail.stage == "saving":
        return f"Saving the index… {detail.chunks:,} chunks"
    parts = [f"{done} of {total} files read", f"{detail.chunks:,} chunks"]
    eta = format_eta(detail.eta)
    if eta and 0 < done < total:
        parts.append(eta)
    if detail.note:  # "OCR page 12 of 40": a long scan is still moving
        parts.append(detail.note)
    return " · ".join(parts)
