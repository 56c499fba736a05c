"""Bring an existing catalogue in line with the answer-grained one (``routing.catalogue``).

0004 only creates the intents that are missing, so a database installed before the split
still has the coarse intents (``account_help`` answered "create", "delete" and "reset my
password" alike). This migration creates the new intents with their phrasings, moves the
default phrasings that now belong elsewhere, narrows the descriptions that were left as
shipped, and deletes a retired intent only when none of its phrasings are the shop's own:
what the shop edited stays.

The defaults it compares against are frozen here, as they were shipped.
"""

from django.db import migrations

RETIRED_EXAMPLES: dict[str, list[str]] = {
    "returns_policy": [
        "what is your refund policy",
        "how long do refunds take in general",
        "what are the conditions for a refund",
        "what's your money-back guarantee",
        "check your reimbursement policy",
        "in which cases can I get my money back",
        "tell me about your refund rules",
    ],
    "shipping_info": [
        "what shipping options do you have",
        "how much is shipping",
        "do you ship to canada",
        "how long does delivery usually take",
        "do you offer express delivery",
        "is there free shipping",
        "which carriers do you use",
        "do you deliver on weekends",
        "do you ship internationally",
        "can you deliver to my postcode",
        "versandkosten nach österreich",
        "check if you deliver to pincode 110001",
    ],
    "payment_methods": [
        "can I pay in instalments",
        "is cash on delivery available",
        "is there an EMI option",
    ],
    "account_help": [
        "how do I create an account",
        "I forgot my password",
        "how can I reset my password",
        "delete my account",
        "how do I change my email address",
        "update my profile details",
        "I can't sign up",
        "registration doesn't work",
        "switch to another account",
        "unsubscribe me from the newsletter",
        "how do I subscribe to your newsletter",
        "ich habe mein passwort vergessen",
        "close my user profile",
    ],
    "invoice": [
        "I need an invoice for my order",
        "where can I download my receipt",
        "send me the bill for my purchase",
        "can I get a VAT invoice",
        "check my invoice",
        "ich brauche eine rechnung",
    ],
    "ordering_help": [
        "how do I place an order",
        "how can I buy this",
        "how do I use a discount code",
        "can I order by phone",
        "I want to buy a mattress",
        "help me make a purchase",
        "do you have any offers right now",
        "is there a sale",
        "how does refer and earn work",
    ],
    "address_change": [
        "set up a new shipping address",
    ],
    "store_info": [
        "what are your customer service hours",
        "how can I contact customer service",
        "what is your phone number",
        "where are your stores",
        "are you open on sunday",
        "tell me about your company",
        "do you have a franchise program",
        "who are your distributors",
        "what time can I call support",
        "is there a store near me",
        "give me your support email",
    ],
    "warranty_policy": [
        "what is the trial period",
        "tell me about the 100 night trial",
    ],
    "smalltalk": [
        "hi",
        "hello there",
        "thanks a lot",
        "thank you, that's all",
        "bye",
        "good morning",
        "ok great",
        "hallo",
        "danke",
        "start over",
        "are you a bot",
    ],
    "sizing": [
        "can I get a custom size",
    ],
    "product_info": [
        "how much does the mattress cost",
        "is the blue one in stock",
        "are your products original",
        "what's the expiry date of this product",
        "does it come in other colours",
        "does this product have side effects",
    ],
}

ADDED_EXAMPLES: dict[str, list[str]] = {
    "track_order": [
        "locate my shipment",
        "where can I find my package right now",
    ],
    "returns_policy": [
        "what items can't be returned",
        "do returned items need the original packaging",
        "how many days do I have to return something",
        "can I return an opened product",
    ],
    "payment_methods": [
        "do you accept credit cards",
        "which cards can I use",
        "what are the ways to pay",
    ],
    "cancellation_fee": [
        "will I be charged if I cancel",
        "is cancelling free",
    ],
    "address_change": [
        "correct the street on my delivery address",
        "modify my saved address",
    ],
    "warranty_policy": [
        "how do I make a warranty claim",
        "garantie auf das produkt",
    ],
    "feedback": [
        "can I share my opinion about your service",
    ],
    "product_info": [
        "tell me more about this product",
        "how thick is the mattress",
        "what are the specifications",
    ],
}

OLD_DESCRIPTIONS: dict[str, str] = {
    "returns_policy": "How returns and refunds work in general.",
    "payment_methods": "Accepted payment methods, instalments, cash on delivery.",
    "address_change": "Setting up or changing a shipping address.",
    "product_info": "Features, materials, prices, stock, authenticity.",
}


def forward(apps, schema_editor):
    from routing.catalogue import CATALOGUE

    intent_model = apps.get_model("routing", "Intent")
    example_model = apps.get_model("routing", "IntentExample")
    for name, texts in RETIRED_EXAMPLES.items():
        example_model.objects.filter(intent__name=name, text__in=texts).delete()
    retired = [name for name in RETIRED_EXAMPLES if name not in CATALOGUE]
    intent_model.objects.filter(name__in=retired, examples__isnull=True).delete()
    for name, spec in CATALOGUE.items():
        intent, created = intent_model.objects.get_or_create(
            name=name,
            defaults={
                "description": spec["description"],
                "tier": spec["tier"],
                "tier0": spec["tier0"],
                "escalate": spec["escalate"],
            },
        )
        if not created and intent.description == OLD_DESCRIPTIONS.get(name):
            intent.description = spec["description"]
            intent.save(update_fields=["description", "updated_at"])
        texts = spec["examples"] if created else ADDED_EXAMPLES.get(name, [])
        example_model.objects.bulk_create(
            [example_model(intent=intent, text=text) for text in texts], ignore_conflicts=True
        )


class Migration(migrations.Migration):
    dependencies = [("routing", "0005_llmcall_cost_report_indexes")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
