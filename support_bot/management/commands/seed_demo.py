from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from orders.demo_shop import demo_shop_data
from orders.management.progress import ImportProgress
from orders.services.shop_import import shop_import
from support_bot.services.demo_answers import demo_answers_install, demo_answers_remove
from support_bot.services.demo_history import demo_history_seed

# Demo logins, printed on purpose; never used outside a demo.
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-demo"
AGENT_USERNAME = "agent"
AGENT_PASSWORD = "agent-demo"
SUPPORT_AGENTS = "Support agents"


class Command(BaseCommand):
    help = (
        "Fill the database with the demo shop (240 customers, 40 products, a year of 1,000 "
        "orders, policies, written answers to common questions) and demo admin and agent "
        "logins. Running it again leaves the same data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7, help="Another seed, another shop.")
        parser.add_argument(
            "--without-written-answers",
            action="store_true",
            help="A shop that has written no answers of its own (bench/load.py).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data = demo_shop_data(seed=options["seed"], today=timezone.localdate())
        summary = shop_import(data=data, progress=ImportProgress(self.stderr))
        self._users()
        if options["without_written_answers"]:
            demo_answers_remove()
            answers = 0
        else:
            answers = demo_answers_install()
        history = demo_history_seed(days=90, seed=options["seed"], today=timezone.localdate())
        self.stdout.write(self.style.SUCCESS(f"Demo shop imported: {summary}"))
        self.stdout.write(f"Demo written answers: {answers} (admin: Routing, Written answers)")
        self.stdout.write(f"Demo cost history: {history}")
        self.stdout.write(
            f"Demo admin: http://127.0.0.1:8000/admin/ user {ADMIN_USERNAME}, "
            f"password {ADMIN_PASSWORD}"
        )
        self.stdout.write(
            f"Demo agent: http://127.0.0.1:8000/agent/ user {AGENT_USERNAME}, "
            f"password {AGENT_PASSWORD}"
        )

    @transaction.atomic
    def _users(self) -> None:
        # Reset rather than skip: a demo whose printed password fails is worse than none.
        admin, _ = get_user_model().objects.get_or_create(username=ADMIN_USERNAME)
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(ADMIN_PASSWORD)
        admin.save()
        agents, _ = Group.objects.get_or_create(name=SUPPORT_AGENTS)
        agent, _ = get_user_model().objects.get_or_create(username=AGENT_USERNAME)
        agent.is_active = True
        agent.first_name = "Sam"
        agent.set_password(AGENT_PASSWORD)
        agent.save()
        agent.groups.add(agents)
