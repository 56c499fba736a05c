from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.context import order_context_build, order_context_rendering
from orders.selectors import customer_get
from orders.tokens import TOKENIZER_NAME


class Command(BaseCommand):
    help = (
        "Print exactly what the model is told about a customer's orders for a message, "
        "then its token count."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer", help="The shop's customer id (e.g. C-1001).")
        parser.add_argument("--message", default="", help="The shopper's message.")
        parser.add_argument(
            "--budget", type=int, default=None, help="Tokens (default ORDER_CONTEXT_TOKENS)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        external_id: str = options["customer"]
        budget: int | None = options["budget"]
        if budget is not None and budget < 1:
            raise CommandError("--budget must be a positive number of tokens.")
        customer = customer_get(external_id=external_id)
        if customer is None:
            raise CommandError(f"No customer with the shop id {external_id!r}.")
        context = order_context_build(
            customer_id=customer.pk, message=options["message"], budget_tokens=budget
        )
        rendering = order_context_rendering(context)
        self.stdout.write(rendering.text)
        self.stdout.write(f"{rendering.tokens} tokens ({TOKENIZER_NAME})")
