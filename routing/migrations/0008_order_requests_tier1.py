from django.db import migrations

# Requests about one order (cancel, change, refund, a payment problem) are answered from
# the order's data and the policies; the cheap tier does that well. Only intents the shop
# has left at the old default move.
MOVED = ("cancel_order", "change_order", "refund_request", "payment_problem")


def forward(apps, schema_editor):
    intent_model = apps.get_model("routing", "Intent")
    for intent in intent_model.objects.filter(name__in=MOVED, tier=2):
        intent.tier = 1
        intent.save(update_fields=["tier", "updated_at"])


def backward(apps, schema_editor):
    intent_model = apps.get_model("routing", "Intent")
    for intent in intent_model.objects.filter(name__in=MOVED, tier=1):
        intent.tier = 2
        intent.save(update_fields=["tier", "updated_at"])


class Migration(migrations.Migration):
    dependencies = [("routing", "0007_more_phrasings")]
    operations = [migrations.RunPython(forward, backward)]
