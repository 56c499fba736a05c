from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orders.models import Policy


@transaction.atomic
def policy_save(*, policy: Policy, is_new: bool) -> Policy:
    """Save an edited policy; every edit raises its version.

    Answers cached and passages indexed under a policy version must not outlive an edit,
    and the version is what they are keyed by.
    """
    policy.updated_at = timezone.now()
    if is_new:
        policy.version = 1
        policy.save()
    else:
        policy.version = F("version") + 1
        policy.save()
        policy.refresh_from_db(fields=["version"])
    return policy
