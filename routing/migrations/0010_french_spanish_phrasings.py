from django.db import migrations


def forward(apps, schema_editor):
    # Exactly the French and Spanish phrasings, for intents the shop still has (as 0007).
    from routing.phrasings_fr_es import PHRASINGS_ES, PHRASINGS_FR

    intent_model = apps.get_model("routing", "Intent")
    example_model = apps.get_model("routing", "IntentExample")
    added = [PHRASINGS_FR, PHRASINGS_ES]
    names = {name for phrasings in added for name in phrasings}
    intents = {intent.name: intent for intent in intent_model.objects.filter(name__in=names)}
    example_model.objects.bulk_create(
        [
            example_model(intent=intents[name], text=text)
            for phrasings in added
            for name, texts in phrasings.items()
            if name in intents
            for text in texts
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0009_german_phrasings")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
