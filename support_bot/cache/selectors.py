"""Reading the answer cache's figures for the admin page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from redis.exceptions import RedisError

from routing.models import LLMCall
from support_bot.cache.services import cache_store_backend


@dataclass(frozen=True)
class CacheFigures:
    reachable: bool
    entries: int
    shared_entries: int
    lookups: int
    hits_exact: int
    hits_semantic: int
    hits_waited: int
    stores: int
    evictions: int
    ledger_hits: int
    ledger_hits_today: int
    saved_usd: Decimal
    saved_today_usd: Decimal

    @property
    def customer_entries(self) -> int:
        return self.entries - self.shared_entries

    @property
    def hits(self) -> int:
        return self.hits_exact + self.hits_semantic

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.lookups if self.lookups else None


def cache_figures() -> CacheFigures:
    """What the store counts (since it was last emptied) and what the ledger says was saved."""
    counts: dict[str, int] = {}
    store = cache_store_backend()
    reachable = store is not None
    if store is not None:
        try:
            counts = store.stats()
        except (RedisError, OSError):
            reachable = False
    since = timezone.now() - timedelta(days=1)
    ledger = LLMCall.objects.filter(outcome=LLMCall.Outcome.CACHE_HIT).aggregate(
        n=Count("id"),
        saved=Sum("avoided_cost_usd"),
        n_today=Count("id", filter=Q(created_at__gte=since)),
        saved_today=Sum("avoided_cost_usd", filter=Q(created_at__gte=since)),
    )
    return CacheFigures(
        reachable=reachable,
        entries=counts.get("entries", 0),
        shared_entries=counts.get("shared_entries", 0),
        lookups=counts.get("lookups", 0),
        hits_exact=counts.get("hits_exact", 0),
        hits_semantic=counts.get("hits_semantic", 0),
        hits_waited=counts.get("hits_waited", 0),
        stores=counts.get("stores", 0),
        evictions=counts.get("evictions", 0),
        ledger_hits=ledger["n"] or 0,
        ledger_hits_today=ledger["n_today"] or 0,
        saved_usd=ledger["saved"] or Decimal(0),
        saved_today_usd=ledger["saved_today"] or Decimal(0),
    )
