# The cost report's aggregates read only these columns: covering them makes the report's
# queries index-only scans on PostgreSQL (see LLMCall.Meta.indexes).

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
        migrations.RemoveIndex(
            model_name='llmcall',
            name='llmcall_conversation_idx',
        ),
        migrations.AddIndex(
            model_name='llmcall',
            index=models.Index(fields=['created_at', 'provider', 'model', 'tier', 'outcome', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_usd', 'avoided_cost_usd'], name='llmcall_report_cover_idx'),
        ),
        migrations.AddIndex(
            model_name='llmcall',
            index=models.Index(fields=['conversation', 'created_at', 'provider', 'model', 'tier', 'cost_usd'], name='llmcall_conversation_cost_idx'),
        ),
    ]
