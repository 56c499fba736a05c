"""Progress on stderr for long imports: one updating line on a terminal, plain lines in logs."""

from __future__ import annotations

from django.core.management.base import OutputWrapper


class ImportProgress:
    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = stream
        self.interactive = stream.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not total:
            return
        line = f"{stage}: {done}/{total} ({done * 100 // total}%)"
        if self.interactive:
            self.stream.write(f"\r{line}", ending="\n" if done == total else "")
            self.stream.flush()
        else:
            self.stream.write(line)
