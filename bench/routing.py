"""Routing benchmark on externally written shopper messages.

    python bench/routing.py [--eval ../shared/eval] [--banking 1000]

Reads Bitext (dev), HINT3 CureKart and SOFMattress (train), and a sample of Banking77 as
out-of-scope traffic for a shop; routes every message as a verified customer's first
message (no history) and prints:

- tier agreement with the intent -> tier mapping below (exact, and within the tiers
  that serve the intent acceptably);
- escalation precision and recall. Gold escalations: the sources' "talk to a person"
  labels (Bitext contact_human_agent, HINT3 CHAT_WITH_AGENT), plus refund requests above
  the configured threshold (ESCALATE_REFUND_ABOVE_USD), which this project's policy sends
  to a person; figures are also shown against the person labels alone;
- out-of-scope handling: Banking77 messages must not get a (confident) tier-0 answer;
- how often messages that need a stronger model (recommendations, comparisons,
  complaints) get tier >= 2 or a person;
- cost per 1,000 messages against two baselines at the same prices: every message to
  GPT-4.1, and a seed-style keyword router (a few keywords to GPT-4.1, the rest to the
  cheapest model). Prompt and reply sizes are the same for every router (see PROMPT_TOKENS
  and REPLY_TOKENS); tier 0 and hand-offs cost no tokens.
- the same cost once the answer cache is in the loop: the messages replayed once each, in
  a shuffled order, through the real cache (``cache_query``, ``cache_lookup``,
  ``cache_store``; the in-process store). A verified customer's answers are cached for that
  customer only; the replay shows anonymous shoppers, whose general answers are shared
  (they get no tier 0: an order question is answered "verify it first", with no model).
- the same replay for signed-in customers of the demo shop, each message from the next of
  its 240 customers: tier 0 answers order questions, a confident general question is
  answered without the customer's data and shared, the rest stay each customer's own.
  Each LLM answer is priced at the size of the prompt the app really builds for it
  (system prompt, policy passages, the customer's order context unless the question is
  general: ``prompt_build``, counted like the gateway counts) plus REPLY_TOKENS, and the
  all-GPT-4.1 baseline is priced on the same prompts.
- in every replay, the demo shop's written answers (``support_bot/services/demo_answers.py``;
  ``--no-written-answers`` leaves them out): a plainly general question of an intent the
  shop wrote an answer for gets it, as the app does, with no model and no cost.

The data stays where it is; nothing is copied into the project.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orders.models import Customer
    from support_bot.cache.keys import CacheQuery

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedded import embedded_django  # noqa: E402  (bench/, beside this file)
from eval_labels import PERSON_LABELS, STRONGER, TIERS, popular_stream  # noqa: E402

# Realistic sizes for one LLM answer: system prompt and rules (~250), policy passages
# (~150), the compressed order context (~300), recent turns (~100); a short answer.
PROMPT_TOKENS = 800
REPLY_TOKENS = 150

# The seed's router: keywords to the premium model, everything else to the cheapest.
SEED_PREMIUM = re.compile(
    r"\b(refund|complain\w*|damaged|broken|lawyer|cancel\w*)\b", re.IGNORECASE
)
SEED_HUMAN = re.compile(r"\b(human|agent|person)\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
AMOUNT = re.compile(r"[$€£]\s?(\d[\d,]*)|(\d[\d,]*)\s?(?:usd|eur|dollars?|euros?)", re.IGNORECASE)


# The replays answer as the app does, with the demo shop's written answers (--no-written-answers).
WRITTEN_ANSWERS = True


def load(eval_dir: Path, banking: int) -> list[tuple[str, str, str]]:
    rows = [
        (r["instruction"], r["intent"], "bitext")
        for r in csv.DictReader((eval_dir / "bitext_dev.csv").open())
    ]
    for name in ("curekart_train.csv", "sofmattress_train.csv"):
        rows += [
            (r["sentence"], r["label"], name.split("_")[0])
            for r in csv.DictReader((eval_dir / name).open())
        ]
    bank = list(csv.DictReader((eval_dir / "banking77_train.csv").open()))
    step = max(1, len(bank) // banking) if banking else 0
    rows += (
        [(r["text"], "OUT_OF_SCOPE", "banking77") for r in bank[::step][:banking]]
        if banking
        else []
    )
    return rows


def gold_escalation(text: str, label: str, threshold: Decimal) -> tuple[bool, bool]:
    person = label in PERSON_LABELS
    amounts = [Decimal((m.group(1) or m.group(2)).replace(",", "")) for m in AMOUNT.finditer(text)]
    policy = label == "get_refund" and any(a > threshold for a in amounts)
    return person, person or policy


def prices() -> dict[str, tuple[Decimal, Decimal]]:
    from routing.models import LLMModel

    return {
        m.name: (m.input_price_per_mtok, m.output_price_per_mtok) for m in LLMModel.objects.all()
    }


def cost(model: str | None, table: dict[str, tuple[Decimal, Decimal]]) -> Decimal:
    if model is None:
        return Decimal(0)
    price_in, price_out = table[model]
    return (PROMPT_TOKENS * price_in + REPLY_TOKENS * price_out) / 1_000_000


def tier_models() -> dict[int, str]:
    """The first paid model of each tier's default chain, as a shop with keys would run."""
    from routing.models import TierRoute

    chosen: dict[int, str] = {}
    for route in TierRoute.objects.select_related("model__provider").order_by("tier", "priority"):
        if route.model.provider.api_key_env and route.tier not in chosen:
            chosen[route.tier] = route.model.name
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--banking", type=int, default=1000, help="Banking77 sample size")
    parser.add_argument("--seed", type=int, default=7, help="order of the cached replays")
    parser.add_argument(
        "--replay", type=int, default=3000, help="messages per shop in the repeated replay"
    )
    parser.add_argument(
        "--no-written-answers",
        action="store_true",
        help="replay without the demo shop's written answers",
    )
    args = parser.parse_args()
    embedded_django("bench-routing-")
    global WRITTEN_ANSWERS
    WRITTEN_ANSWERS = not args.no_written_answers
    if WRITTEN_ANSWERS:
        from support_bot.services.demo_answers import demo_answers_install

        print(f"The replays use the demo shop's {demo_answers_install()} written answers.")
    from django.conf import settings

    from routing.decisions import route_decide
    from routing.warm import warm_up

    warm_up()
    rows = load(args.eval, args.banking)
    started = time.monotonic()
    decisions = [
        (text, label, source, route_decide(text=text, customer_known=True))
        for text, label, source in rows
    ]
    elapsed = time.monotonic() - started
    report(decisions, settings.ESCALATE_REFUND_ABOVE_USD, elapsed)
    in_scope = [(text, label) for text, label, _ in rows if label != "OUT_OF_SCOPE"]
    cached_replay(in_scope, seed=args.seed)
    signed_in_replay(in_scope, seed=args.seed)
    repeated_replay(
        [row for row in rows if row[1] != "OUT_OF_SCOPE"], messages=args.replay, seed=args.seed
    )


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "    -"


def report(decisions: list, threshold: Decimal, elapsed: float) -> None:  # type: ignore[type-arg]
    in_scope = [d for d in decisions if d[1] != "OUT_OF_SCOPE"]
    print(
        f"{len(decisions)} messages routed in {elapsed:.1f}s ({1000 * elapsed / len(decisions):.1f} ms each)\n"
    )
    print("Tier agreement (verified customer, first message)")
    print(f"{'source':<12}{'n':>6}{'exact':>9}{'acceptable':>12}")
    for source in ("bitext", "curekart", "sofmattress"):
        subset = [d for d in in_scope if d[2] == source]
        exact = sum(
            d[3].tier == TIERS[d[1]][0] or (d[1] in PERSON_LABELS and d[3].escalate) for d in subset
        )
        ok = sum(d[3].tier in TIERS[d[1]][1] or d[3].escalate for d in subset)
        print(
            f"{source:<12}{len(subset):>6}{_pct(exact, len(subset)):>9}{_pct(ok, len(subset)):>12}"
        )

    print("\nEscalation")
    for name, index in (
        ("person labels + policy (refunds > threshold)", 1),
        ("person labels only", 0),
    ):
        tp = fp = fn = 0
        for text, label, _, decision in in_scope:
            gold = gold_escalation(text, label, threshold)[index]
            tp += decision.escalate and gold
            fp += decision.escalate and not gold
            fn += gold and not decision.escalate
        print(
            f"  {name:<46} recall {_pct(tp, tp + fn)}  precision {_pct(tp, tp + fp)}  (tp {tp}, fp {fp}, fn {fn})"
        )

    oos = [d for d in decisions if d[1] == "OUT_OF_SCOPE"]
    if oos:
        tier0 = sum(d[3].tier == 0 for d in oos)
        low = sum("low_confidence" in d[3].reasons for d in oos)
        esc = sum(d[3].escalate for d in oos)
        print(
            f"\nOut of scope (Banking77 sample, {len(oos)}): tier 0 {_pct(tier0, len(oos))}, "
            f"marked low confidence {_pct(low, len(oos))}, escalated {_pct(esc, len(oos))}"
        )

    stronger = [d for d in in_scope if d[1] in STRONGER]
    good = sum(d[3].tier >= 2 or d[3].escalate for d in stronger)
    print(
        f"\nNeeds a stronger model ({', '.join(sorted(STRONGER))}): tier >= 2 or a person in {_pct(good, len(stronger))} of {len(stronger)}"
    )

    table, models = prices(), tier_models()
    ours = Counter[str]()
    total = {"ours": Decimal(0), "gpt-4.1": Decimal(0), "seed keywords": Decimal(0)}
    cheapest = min(table, key=lambda m: table[m][1] if table[m][1] > 0 else Decimal(999))
    for text, _, _, decision in in_scope:
        model = None if decision.escalate or decision.tier == 0 else models[decision.tier]
        ours[model or ("person" if decision.escalate else "tier 0")] += 1
        total["ours"] += cost(model, table)
        total["gpt-4.1"] += cost("gpt-4.1", table)
        seed_model = (
            None
            if SEED_HUMAN.search(text)
            else ("gpt-4.1" if SEED_PREMIUM.search(text) else cheapest)
        )
        total["seed keywords"] += cost(seed_model, table)
    n = len(in_scope)
    print(
        f"\nCost per 1,000 messages ({PROMPT_TOKENS} prompt + {REPLY_TOKENS} reply tokens per LLM answer)"
    )
    for name, value in total.items():
        print(
            f"  {name:<14} ${value * 1000 / n:8.4f}   {_pct(int(value * 10_000), int(total['gpt-4.1'] * 10_000))} of all-GPT-4.1"
        )
    print("  our mix: " + ", ".join(f"{k} {_pct(v, n).strip()}" for k, v in ours.most_common()))


def cached_replay(messages: list[tuple[str, str]], *, seed: int) -> None:
    """Anonymous shoppers' messages, each once in a shuffled order, through the real cache."""
    import random

    from routing.decisions import route_decide
    from support_bot.cache.services import cache_query, cache_reset, question_is_general
    from support_bot.services.replies import written_answer_for

    cache_reset()
    table, models = prices(), tier_models()
    order = list(messages)
    random.Random(seed).shuffle(order)
    spent, without = Decimal(0), Decimal(0)
    mix = Counter[str]()
    for text, _ in order:
        decision = route_decide(text=text, customer_known=False)
        if decision.escalate:
            mix["person"] += 1
            continue
        if "needs_verification" in decision.reasons:
            mix["asked to verify"] += 1  # an order question from a guest: no model
            continue
        general = question_is_general(text=text, decision=decision)
        if WRITTEN_ANSWERS and written_answer_for(
            text=text, decision=decision, language="en", general=general
        ):
            mix["written answer"] += 1
            continue
        price = cost(models[decision.tier], table)
        without += price
        query = cache_query(text=text, decision=decision, customer_id=None, language="en")
        spent += _through_cache(query, text, decision.tier, models[decision.tier], price, mix)
    n = len(order)
    gpt = cost("gpt-4.1", table) * n
    print(f"\nAnonymous shoppers, each message once (shuffled, seed {seed}), answer cache on")
    _print_replay(n, without=without, spent=spent, gpt=gpt, mix=mix)


def signed_in_replay(messages: list[tuple[str, str]], *, seed: int) -> None:
    """Signed-in customers' messages, each once, through the real cache, priced at the
    size of the prompts the app builds for them."""
    import random

    customers = _demo_customers()
    order = list(messages)
    random.Random(seed).shuffle(order)
    replay = _SignedInReplay()
    for n, (text, _) in enumerate(order):
        replay.ask(text, customers[n % len(customers)])
    sizes = sorted(replay.sizes)
    print(
        f"\nSigned-in customers ({len(customers)}), each message once (shuffled, seed {seed}), "
        f"answer cache on; prompts as built: median {sizes[len(sizes) // 2]} tokens, "
        f"p90 {sizes[int(len(sizes) * 0.9)]}; {replay.general} of {len(sizes)} LLM questions general"
    )
    replay.print()


def repeated_replay(rows: list[tuple[str, str, str]], *, messages: int, seed: int) -> None:
    """Each source its own shop with realistic repetition (``popular_stream``, as in
    bench/cache.py): signed-in customers, each message from one of the demo shop's
    customers at random, through tier 0, hand-offs and the real cache, priced at the
    prompts the app builds."""
    import random

    customers = _demo_customers()
    rng = random.Random(seed)
    print(
        f"\nSigned-in customers, {messages:,} messages per shop with realistic repetition "
        "(Zipf-like popularity of a question: its label and the numbers in it; "
        "one shop and cache per source), answer cache on"
    )
    total = _SignedInReplay()
    for source in ("bitext", "curekart", "sofmattress"):
        shop = [(text, label) for text, label, origin in rows if origin == source]
        stream, distinct = popular_stream(
            shop, lambda row: (row[1], frozenset(_DIGITS.findall(row[0]))), messages, rng
        )
        replay = _SignedInReplay()
        for text, _ in stream:
            replay.ask(text, rng.choice(customers))
        print(f"- {source} ({distinct:,} distinct questions):")
        replay.print()
        total.add(replay)
    print("- the three shops together:")
    total.print()


def _demo_customers() -> list[Customer]:
    from django.core.management import call_command
    from django.db.models import Count

    from orders.models import Customer

    if not Customer.objects.exists():
        call_command("seed_demo", verbosity=0, stdout=io.StringIO())
        # A process re-reads the catalogue every 30 s: the replays must not depend on
        # whether an earlier one read it before the shop was seeded.
        from routing.products import reset

        reset()
    return list(Customer.objects.annotate(n=Count("orders")).filter(n__gt=0).order_by("id"))


class _SignedInReplay:
    """Signed-in customers' messages through routing, tier 0, hand-offs and the real answer
    cache (started empty), each LLM answer priced at the size of the prompt the app builds
    for it; the all-GPT-4.1 baseline sends every message, on the same prompt, to GPT-4.1."""

    def __init__(self) -> None:
        from support_bot.cache.services import cache_reset

        cache_reset()
        self.table, self.models = prices(), tier_models()
        self.spent = self.without = self.gpt = Decimal(0)
        self.mix = Counter[str]()
        self.sizes: list[int] = []
        self.general = 0
        self.n = 0

    def ask(self, text: str, customer: Customer) -> None:
        from routing.decisions import route_decide
        from routing.gateway import prompt_tokens
        from support_bot.cache.keys import context_digest, products_digest
        from support_bot.cache.services import cache_query, question_is_general
        from support_bot.selectors import ReplyJob, Turn
        from support_bot.services.replies import reply_facts, reply_messages, written_answer_for

        decision = route_decide(text=text, customer_known=True)
        answered = not (decision.escalate or decision.tier0)
        general = answered and question_is_general(text=text, decision=decision)
        self.general += general
        job = ReplyJob(
            reply_id=self.n,
            conversation_id=self.n,
            attempt=1,
            group="bench",
            conversation_state="bot",
            language="en",
            customer_id=customer.pk,
            customer_name=customer.name,
            history=(Turn(role="shopper", text=text),),
        )
        self.n += 1
        facts = reply_facts(job, text, general=general, decision=decision)
        size = prompt_tokens(reply_messages(job, decision, facts))
        self.gpt += sized_cost("gpt-4.1", self.table, size)
        if not answered:
            self.mix["person" if decision.escalate else "tier 0"] += 1
            return
        if WRITTEN_ANSWERS and written_answer_for(
            text=text, decision=decision, language="en", general=general
        ):
            self.mix["written answer"] += 1
            return
        self.sizes.append(size)
        model = self.models[decision.tier]
        price = sized_cost(model, self.table, size)
        self.without += price
        query = cache_query(
            text=text,
            decision=decision,
            customer_id=customer.pk,
            language="en",
            prompt_has_customer=not general,
            context_fingerprint=None
            if facts.orders_text is None
            else context_digest(facts.orders_text),
            policy_versions=facts.policies,
            products_fingerprint=products_digest(facts.products),
        )
        self.spent += _through_cache(query, text, decision.tier, model, price, self.mix)

    def add(self, other: _SignedInReplay) -> None:
        self.spent += other.spent
        self.without += other.without
        self.gpt += other.gpt
        self.mix += other.mix
        self.n += other.n

    def print(self) -> None:
        print(
            f"  all-GPT-4.1    ${self.gpt * 1000 / self.n:8.4f}   (every message, on the prompt it would get)"
        )
        _print_replay(self.n, without=self.without, spent=self.spent, gpt=self.gpt, mix=self.mix)


def _through_cache(
    query: CacheQuery | None, text: str, tier: int, model: str, price: Decimal, mix: Counter[str]
) -> Decimal:
    """One replayed LLM question: a hit costs nothing; a miss is paid for and stored."""
    from support_bot.cache.services import cache_lookup, cache_store

    if cache_lookup(query) is not None:
        mix["cache hit"] += 1
        return Decimal(0)
    mix[model] += 1
    cache_store(query, answer=f"answer to: {text}", tier=tier, cost_usd=price)
    return price


def _print_replay(
    n: int, *, without: Decimal, spent: Decimal, gpt: Decimal, mix: Counter[str]
) -> None:
    for name, value in (("without cache", without), ("with cache", spent)):
        print(
            f"  {name:<14} ${value * 1000 / n:8.4f}   {_pct(int(value * 10_000), int(gpt * 10_000))} of all-GPT-4.1"
        )
    print("  mix: " + ", ".join(f"{k} {_pct(v, n).strip()}" for k, v in mix.most_common()))


def sized_cost(model: str, table: dict[str, tuple[Decimal, Decimal]], prompt: int) -> Decimal:
    price_in, price_out = table[model]
    return (prompt * price_in + REPLY_TOKENS * price_out) / 1_000_000


if __name__ == "__main__":
    main()
