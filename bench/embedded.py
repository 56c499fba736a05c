"""Django for the benchmarks that run on the embedded default: SQLite in a throwaway
folder, the in-process cache and channel layer, whatever the environment says."""

from __future__ import annotations

import os
import tempfile


def embedded_django(prefix: str) -> None:
    """Set up Django on a fresh SQLite database in a temporary ``prefix``* folder (unless
    SUPPORT_BOT_VAR_DIR names one) and migrate it."""
    os.environ.setdefault("SUPPORT_BOT_VAR_DIR", tempfile.mkdtemp(prefix=prefix))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_REDIS_URL"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
