from django.db import migrations


def forward(apps, schema_editor):
    from routing.catalogue import install_phrasings
    from routing.phrasings_fr_es import PHRASINGS_ES, PHRASINGS_FR

    install_phrasings(
        apps.get_model("routing", "Intent"),
        apps.get_model("routing", "IntentExample"),
        PHRASINGS_FR,
        PHRASINGS_ES,
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0009_german_phrasings")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
