from django.db import migrations


def forward(apps, schema_editor):
    # Exactly the German phrasings, for intents the shop still has (as 0007 does).
    from routing.phrasings_de import PHRASINGS_DE

    intent_model = apps.get_model("routing", "Intent")
    example_model = apps.get_model("routing", "IntentExample")
    intents = {
        intent.name: intent for intent in intent_model.objects.filter(name__in=PHRASINGS_DE)
    }
    example_model.objects.bulk_create(
        [
            example_model(intent=intents[name], text=text)
            for name, texts in PHRASINGS_DE.items()
            if name in intents
            for text in texts
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0008_order_requests_tier1")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
