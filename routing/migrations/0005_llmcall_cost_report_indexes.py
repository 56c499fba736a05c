# The cost report reads only these columns: covering them makes its aggregates index-only
# scans on PostgreSQL. The narrower index they replace is a prefix of this one.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('routing', '0004_default_intents'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='llmcall',
            name='llmcall_report_idx',
        ),
        migrations.AddIndex(
            model_name='llmcall',
            index=models.Index(fields=['created_at', 'provider', 'model', 'tier', 'outcome', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_usd', 'avoided_cost_usd', 'conversation'], name='llmcall_report_cover_idx'),
        ),
    ]
