from django.db import migrations


def install(apps, schema_editor):
    from routing.catalogue import install_catalogue

    install_catalogue(apps.get_model("routing", "Intent"), apps.get_model("routing", "IntentExample"))


class Migration(migrations.Migration):
    dependencies = [("routing", "0003_intents")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
