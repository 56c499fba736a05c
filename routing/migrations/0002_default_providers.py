from django.db import migrations


def install(apps, schema_editor):
    from routing.defaults import install_defaults

    install_defaults(
        apps.get_model("routing", "Provider"),
        apps.get_model("routing", "LLMModel"),
        apps.get_model("routing", "TierRoute"),
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
