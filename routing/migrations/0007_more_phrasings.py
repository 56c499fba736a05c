from django.db import migrations


def forward(apps, schema_editor):
    # Exactly the added phrasings, for intents the shop still has: a phrasing the shop
    # deleted from the original catalogue stays deleted.
    from routing.phrasings import PHRASINGS

    intent_model = apps.get_model("routing", "Intent")
    example_model = apps.get_model("routing", "IntentExample")
    intents = {intent.name: intent for intent in intent_model.objects.filter(name__in=PHRASINGS)}
    example_model.objects.bulk_create(
        [
            example_model(intent=intents[name], text=text)
            for name, texts in PHRASINGS.items()
            if name in intents
            for text in texts
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0006_answer_grained_intents")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
