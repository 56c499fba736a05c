from django.db import migrations


def forward(apps, schema_editor):
    from routing.catalogue import install_phrasings
    from routing.phrasings import PHRASINGS

    install_phrasings(
        apps.get_model("routing", "Intent"), apps.get_model("routing", "IntentExample"), PHRASINGS
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0006_answer_grained_intents")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
