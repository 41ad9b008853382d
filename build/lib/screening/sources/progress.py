"""Progress on stderr for long exports (rich); a no-op unless asked for. Shows counts and X-Progress only."""

from __future__ import annotations

import threading


class Reporter:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._lock = threading.Lock()
        self._progress = None
        self._poll_task = None
        self._file_task = None

    def _start(self):
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=False,
            )
            self._progress.start()
        return self._progress

    def polling(self, text: str | None, polls: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            p = self._start()
            desc = f"export running: {text or 'in progress'} (poll {polls})"
            if self._poll_task is None:
                self._poll_task = p.add_task(desc, total=None)
            else:
                p.update(self._poll_task, description=desc)

    def done_polling(self) -> None:
        if self.enabled and self._poll_task is not None:
            with self._lock:
                self._progress.update(self._poll_task, description="export ready", total=1, completed=1)

    def start_files(self, total: int, done: int, label: str = "files") -> None:
        if not self.enabled:
            return
        with self._lock:
            p = self._start()
            self._file_task = p.add_task(f"downloading {label}", total=total, completed=done)

    def file_done(self) -> None:
        if self.enabled and self._file_task is not None:
            with self._lock:
                self._progress.advance(self._file_task)

    def bytes(self, n: int) -> None:  # byte counts are shown by the final summary only
        pass

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
