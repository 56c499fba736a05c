from django.db import migrations


def forward(apps, schema_editor):
    from routing.catalogue import install_phrasings
    from routing.phrasings_de import PHRASINGS_DE

    install_phrasings(
        apps.get_model("routing", "Intent"),
        apps.get_model("routing", "IntentExample"),
        PHRASINGS_DE,
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0008_order_requests_tier1")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
