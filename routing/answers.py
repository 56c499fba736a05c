"""The shop's written answers (``IntentAnswer``): looked up by intent and language.

Whether a question may get one is the caller's call (support_bot's reply service knows
the question's entities and scope); this module only finds the answer. It is read only
for questions that could get one, so it is one indexed query, and an edit in the admin
applies to the next message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction

from routing.models import Intent, IntentAnswer


@dataclass(frozen=True)
class WrittenAnswer:
    text: str
    any_details: bool  # the shop says it answers questions naming specifics too


def written_answer(*, intent: str, language: str) -> WrittenAnswer | None:
    """The enabled answer the shop wrote for ``intent`` in ``language``, if any."""
    row = (
        IntentAnswer.objects.filter(intent__name=intent, language=language, enabled=True)
        .values_list("text", "any_details")
        .first()
    )
    if row is None or not row[0].strip():
        return None
    return WrittenAnswer(text=row[0].strip(), any_details=row[1])


@transaction.atomic
def written_answers_save(answers: Mapping[tuple[str, str], tuple[str, bool]]) -> int:
    """Create or replace answers: {(intent, language): (text, any_details)}. Intents that
    the catalogue does not have are an error, not a silent skip."""
    intents = dict(
        Intent.objects.filter(name__in={i for i, _ in answers}).values_list("name", "pk")
    )
    unknown = sorted({i for i, _ in answers} - set(intents))
    if unknown:
        raise ValueError(f"no such intent: {', '.join(unknown)}")
    for (intent, language), (text, any_details) in answers.items():
        IntentAnswer.objects.update_or_create(
            intent_id=intents[intent],
            language=language,
            defaults={"text": text.strip(), "any_details": any_details, "enabled": True},
        )
    return len(answers)
