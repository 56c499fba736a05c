from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.import_schema import ShopImportError
from orders.management.progress import ImportProgress
from orders.services.shop_import import shop_import_file


class Command(BaseCommand):
    help = (
        "Import a shop's customers, products, orders and policies from a JSON file "
        "(schema: docs/import.md). All or nothing; importing the same file again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--max-mb", type=int, default=None, help="Refuse files above this size (default 20)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        max_mb: int | None = options["max_mb"]
        try:
            summary = shop_import_file(
                path=path,
                max_bytes=None if max_mb is None else max_mb * 1024 * 1024,
                progress=ImportProgress(self.stderr),
            )
        except ShopImportError as exc:
            raise CommandError(f"{path}: nothing was imported.\n{exc}") from None
        self.stdout.write(self.style.SUCCESS(f"Imported {path}: {summary}"))
