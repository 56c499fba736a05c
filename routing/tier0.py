"""Tier 0: answers straight from the shop's data, no model, no tokens.

Only for a verified customer and only for questions the data answers completely: where
an order is, its tracking, when it arrives, its refund, and whether it can still be
returned. The order is the one the shopper names (by number), else the most recent one
the question fits. Templates are written per language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from orders.models import Payment, Policy
from orders.selectors import order_list_for_answers

TIER0_INTENTS = {
    "order_status",
    "track_order",
    "delivery_estimate",
    "refund_status",
    "return_window",
}
DEFAULT_RETURN_DAYS = 30
# Intents with a template of their own; every other tier-0 intent gets the order's status,
# parcels, tracking and delivery date (``_status``), so "where is it", "tracking number?"
# and "when does it come?" get the same answer.
_OWN_TEMPLATE = {"refund_status", "return_window"}
_NUMBER = re.compile(r"#?\b([A-Z]?\d{4,12})\b", re.IGNORECASE)

STATUS = {
    "en": {
        "pending": "waiting for payment",
        "processing": "being prepared",
        "shipped": "on its way",
        "partially_shipped": "partly on its way",
        "delivered": "delivered",
        "cancelled": "cancelled",
        "returned": "returned",
        "partially_returned": "partly returned",
        "exchanged": "exchanged",
        "label_created": "label created, not yet with the carrier",
        "in_transit": "in transit",
        "out_for_delivery": "out for delivery",
        "exception": "held up by the carrier",
        "succeeded": "paid out",
        "failed": "failed",
        "cancelled_refund": "cancelled",
    },
    "de": {
        "pending": "wartet auf die Zahlung",
        "processing": "in Vorbereitung",
        "shipped": "unterwegs",
        "partially_shipped": "teilweise unterwegs",
        "delivered": "zugestellt",
        "cancelled": "storniert",
        "returned": "zurückgesendet",
        "partially_returned": "teilweise zurückgesendet",
        "exchanged": "umgetauscht",
        "label_created": "Versandetikett erstellt, noch nicht beim Zusteller",
        "in_transit": "unterwegs",
        "out_for_delivery": "in der Zustellung",
        "exception": "beim Zusteller aufgehalten",
        "succeeded": "ausgezahlt",
        "failed": "fehlgeschlagen",
        "cancelled_refund": "storniert",
    },
    "fr": {
        "pending": "en attente de paiement",
        "processing": "en préparation",
        "shipped": "en route",
        "partially_shipped": "en partie en route",
        "delivered": "livrée",
        "cancelled": "annulée",
        "returned": "retournée",
        "partially_returned": "en partie retournée",
        "exchanged": "échangée",
        "label_created": "étiquette créée, pas encore chez le transporteur",
        "in_transit": "en transit",
        "out_for_delivery": "en cours de livraison",
        "exception": "retenu par le transporteur",
        "succeeded": "versé",
        "failed": "échoué",
        "cancelled_refund": "annulé",
    },
    "es": {
        "pending": "pendiente de pago",
        "processing": "en preparación",
        "shipped": "en camino",
        "partially_shipped": "en parte en camino",
        "delivered": "entregado",
        "cancelled": "cancelado",
        "returned": "devuelto",
        "partially_returned": "devuelto en parte",
        "exchanged": "cambiado",
        "label_created": "etiqueta creada, aún no en manos del transportista",
        "in_transit": "en tránsito",
        "out_for_delivery": "en reparto",
        "exception": "retenido por el transportista",
        "succeeded": "abonado",
        "failed": "fallido",
        "cancelled_refund": "cancelado",
    },
}

TEXT = {
    "en": {
        "order": "Your order {number} from {placed} is {status}.",
        "parcel": "Parcel {index} with {carrier} (tracking {tracking}): {status}{when}.",
        "eta": ", expected {date}",
        "late": ", it was expected {date} and is running late",
        "delivered_on": ", delivered {date}",
        "no_parcel": "It has not been handed to a carrier yet.",
        "refund": "Order {number}: a refund of {amount} to your {method} is {status} ({date}).",
        "no_refund": "There is no refund on order {number} yet. Refunds are paid once a return has arrived and been checked.",
        "return_open": "You can return items from order {number} until {deadline} ({days} days left).",
        "return_closed": "The {window}-day return window for order {number} closed on {deadline}.",
        "return_not_delivered": "Order {number} has not been delivered yet; you will have {window} days to return it once it arrives.",
        "no_order": "I can't find an order on your account that matches. Could you give me the order number?",
        "late_help": "If it doesn't arrive within two days, tell me and I'll pass it to a colleague.",
    },
    "de": {
        "order": "Ihre Bestellung {number} vom {placed} ist {status}.",
        "parcel": "Paket {index} mit {carrier} (Sendungsnummer {tracking}): {status}{when}.",
        "eta": ", voraussichtlich am {date}",
        "late": ", es wurde am {date} erwartet und ist verspätet",
        "delivered_on": ", zugestellt am {date}",
        "no_parcel": "Sie wurde noch keinem Zusteller übergeben.",
        "refund": "Bestellung {number}: eine Erstattung von {amount} auf Ihr(e) {method} ist {status} ({date}).",
        "no_refund": "Für Bestellung {number} gibt es noch keine Erstattung. Erstattungen erfolgen, sobald die Rücksendung angekommen und geprüft ist.",
        "return_open": "Sie können Artikel aus Bestellung {number} bis zum {deadline} zurücksenden (noch {days} Tage).",
        "return_closed": "Die {window}-tägige Rückgabefrist für Bestellung {number} ist am {deadline} abgelaufen.",
        "return_not_delivered": "Bestellung {number} ist noch nicht zugestellt; nach der Zustellung haben Sie {window} Tage für eine Rücksendung.",
        "no_order": "Ich finde in Ihrem Konto keine passende Bestellung. Können Sie mir die Bestellnummer nennen?",
        "late_help": "Wenn es in zwei Tagen nicht da ist, sagen Sie mir Bescheid, dann gebe ich es an einen Kollegen weiter.",
    },
    "fr": {
        "order": "Votre commande {number} du {placed} est {status}.",
        "parcel": "Colis {index} avec {carrier} (suivi {tracking}) : {status}{when}.",
        "eta": ", prévu le {date}",
        "late": ", il était prévu le {date} et a du retard",
        "delivered_on": ", livré le {date}",
        "no_parcel": "Elle n'a pas encore été remise à un transporteur.",
        "refund": "Commande {number} : un remboursement de {amount} sur votre {method} est {status} ({date}).",
        "no_refund": "Il n'y a pas encore de remboursement pour la commande {number}. Il est versé dès que le retour est arrivé et vérifié.",
        "return_open": "Vous pouvez retourner des articles de la commande {number} jusqu'au {deadline} (encore {days} jours).",
        "return_closed": "Le délai de retour de {window} jours pour la commande {number} a pris fin le {deadline}.",
        "return_not_delivered": "La commande {number} n'est pas encore livrée ; vous aurez {window} jours pour la retourner après réception.",
        "no_order": "Je ne trouve pas de commande correspondante sur votre compte. Pouvez-vous me donner le numéro de commande ?",
        "late_help": "S'il n'arrive pas d'ici deux jours, dites-le-moi et je transmettrai à un collègue.",
    },
    "es": {
        "order": "Su pedido {number} del {placed} está {status}.",
        "parcel": "Paquete {index} con {carrier} (seguimiento {tracking}): {status}{when}.",
        "eta": ", previsto para el {date}",
        "late": ", se esperaba el {date} y lleva retraso",
        "delivered_on": ", entregado el {date}",
        "no_parcel": "Todavía no se ha entregado a ningún transportista.",
        "refund": "Pedido {number}: un reembolso de {amount} a su {method} está {status} ({date}).",
        "no_refund": "Todavía no hay ningún reembolso para el pedido {number}. Se paga cuando la devolución ha llegado y se ha revisado.",
        "return_open": "Puede devolver artículos del pedido {number} hasta el {deadline} (quedan {days} días).",
        "return_closed": "El plazo de devolución de {window} días del pedido {number} terminó el {deadline}.",
        "return_not_delivered": "El pedido {number} aún no se ha entregado; tendrá {window} días para devolverlo cuando llegue.",
        "no_order": "No encuentro ningún pedido que coincida en su cuenta. ¿Me puede dar el número de pedido?",
        "late_help": "Si no llega en dos días, dígamelo y se lo paso a un compañero.",
    },
}
METHOD = {
    "card": {"en": "card", "de": "Karte", "fr": "carte", "es": "tarjeta"},
    "gift_card": {
        "en": "gift card",
        "de": "Geschenkkarte",
        "fr": "carte cadeau",
        "es": "tarjeta regalo",
    },
    "paypal": {
        "en": "PayPal account",
        "de": "PayPal-Konto",
        "fr": "compte PayPal",
        "es": "cuenta PayPal",
    },
}


@dataclass(frozen=True)
class Tier0Answer:
    text: str
    order_number: str | None


def _date(value: date | datetime, language: str) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    if language == "en":
        return f"{value.day} {value:%b %Y}"
    return value.strftime("%d.%m.%Y") if language == "de" else value.strftime("%d/%m/%Y")


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


# An order as ``order_list_for_answers`` reads it: its fields, ``shipments`` and ``payments``.
OrderRow = dict[str, Any]


def _method(method: str, lang: str) -> str:
    shown = str(Payment.Method(method).label) if method in Payment.Method.values else method
    return METHOD.get(method, {}).get(lang, shown)


def _pick(orders: list[OrderRow], message: str, intent: str) -> OrderRow | None:
    named = {m.group(1).lstrip("#").upper() for m in _NUMBER.finditer(message)}
    for order in orders:
        if order["number"].lstrip("#").upper() in named:
            return order
    if named:
        return None  # a number we don't know on this account: never guess another order
    fits = {
        "refund_status": lambda o: (
            any(p["kind"] == "refund" for p in o["payments"])
            or o["status"] in {"returned", "partially_returned", "cancelled"}
        ),
        "return_window": lambda o: o["status"] in {"delivered", "partially_returned", "shipped"},
        "track_order": lambda o: any(s["tracking_numbers"] for s in o["shipments"]),
        "delivery_estimate": lambda o: (
            o["status"] in {"shipped", "partially_shipped", "processing"}
        ),
    }.get(intent, lambda o: True)
    return next((o for o in orders if fits(o)), orders[0] if orders else None)


def tier0_template(intent: str) -> str | None:
    """Which template answers ``intent`` (None: tier 0 does not answer it)."""
    if intent not in TIER0_INTENTS:
        return None
    return intent if intent in _OWN_TEMPLATE else "status"


# A shopper who is neither signed in nor verified asks about an order: the data would
# answer it, once the order is known to be theirs. The widget's link says "Ask about an
# order? Verify it first" (it is in English on every page).
VERIFY_FIRST = {
    "en": "I can look that up as soon as I know the order is yours: choose \u201cAsk about an "
    "order? Verify it first\u201d below and enter the order number with the email address or "
    "postal code on it.",
    "de": "Das sehe ich gern nach, sobald ich weiß, dass die Bestellung Ihre ist: Wählen Sie "
    "unten \u201cAsk about an order? Verify it first\u201d und geben Sie die Bestellnummer mit "
    "der E-Mail-Adresse oder Postleitzahl der Bestellung ein.",
    "fr": "Je peux le vérifier dès que je sais que la commande est la vôtre : choisissez "
    "\u00ab\u00a0Ask about an order? Verify it first\u00a0\u00bb ci-dessous et saisissez le "
    "numéro de commande avec l'adresse e-mail ou le code postal de la commande.",
    "es": "Puedo consultarlo en cuanto sepa que el pedido es suyo: elija \u00abAsk about an "
    "order? Verify it first\u00bb abajo e introduzca el número de pedido con el correo "
    "electrónico o el código postal del pedido.",
}


def tier0_verify_first(language: str) -> str:
    """The answer to an order question from a shopper the chat does not know yet."""
    return VERIFY_FIRST.get(language, VERIFY_FIRST["en"])


def tier0_asked_to_verify(text: str) -> bool:
    """Whether a bot turn was ``tier0_verify_first``'s answer (in any language)."""
    return text.strip() in _VERIFY_FIRST_TEXTS


_VERIFY_FIRST_TEXTS = frozenset(VERIFY_FIRST.values())


def tier0_answer(
    *, intent: str, customer_id: int, message: str, language: str, today: date | None = None
) -> Tier0Answer | None:
    """The answer, or None when the data cannot answer this question for this customer."""
    if intent not in TIER0_INTENTS:
        return None
    lang = language if language in TEXT else "en"
    order = _pick(order_list_for_answers(customer_id=customer_id), message, intent)
    if order is None:
        return Tier0Answer(TEXT[lang]["no_order"], None)
    today = today or timezone.localdate()
    render = {
        "refund_status": _refund,
        "return_window": _return_window,
    }.get(intent, _status)
    return Tier0Answer(render(order, lang, today), order["number"])


def _status(order: OrderRow, lang: str, today: date) -> str:
    text, status = TEXT[lang], STATUS[lang]
    lines = [
        text["order"].format(
            number=order["number"],
            placed=_date(order["placed_at"], lang),
            status=status.get(order["status"], order["status"]),
        )
    ]
    shipments = order["shipments"]
    late = False
    for index, shipment in enumerate(shipments, start=1):
        when = ""
        parcel_status = status.get(shipment["status"], shipment["status"])
        if shipment["delivered_at"]:
            when = text["delivered_on"].format(date=_date(shipment["delivered_at"], lang))
            if shipment["status"] == "delivered":
                # "delivered 31 Aug", not "delivered, delivered 31 Aug"
                parcel_status, when = when.removeprefix(", "), ""
        elif shipment["estimated_delivery"]:
            late = shipment["estimated_delivery"] < today
            key = "late" if late else "eta"
            when = text[key].format(date=_date(shipment["estimated_delivery"], lang))
        lines.append(
            text["parcel"].format(
                index=index,
                carrier=shipment["carrier"],
                tracking=", ".join(str(n) for n in shipment["tracking_numbers"]) or "-",
                status=parcel_status,
                when=when,
            )
        )
    if not shipments and order["status"] in {"pending", "processing"}:
        lines.append(text["no_parcel"])
    if late:
        lines.append(text["late_help"])
    return " ".join(lines)


def _refund(order: OrderRow, lang: str, today: date) -> str:
    refunds = [p for p in order["payments"] if p["kind"] == "refund"]
    if not refunds:
        return TEXT[lang]["no_refund"].format(number=order["number"])
    return " ".join(
        TEXT[lang]["refund"].format(
            number=order["number"],
            amount=_money(p["amount"], p["currency"]),
            method=_method(p["method"], lang),
            status=STATUS[lang].get(
                "cancelled_refund" if p["status"] == "cancelled" else p["status"], p["status"]
            ),
            date=_date(p["created_at"], lang),
        )
        for p in refunds
    )


def _return_window(order: OrderRow, lang: str, today: date) -> str:
    policy = Policy.objects.filter(kind=Policy.Kind.RETURNS).exclude(window_days=None).first()
    window = (
        policy.window_days if policy and policy.window_days is not None else DEFAULT_RETURN_DAYS
    )
    delivered = [s["delivered_at"] for s in order["shipments"] if s["delivered_at"]]
    if not delivered:
        return TEXT[lang]["return_not_delivered"].format(number=order["number"], window=window)
    deadline = timezone.localtime(max(delivered)).date() + timedelta(days=window)
    if deadline < today:
        return TEXT[lang]["return_closed"].format(
            window=window, number=order["number"], deadline=_date(deadline, lang)
        )
    return TEXT[lang]["return_open"].format(
        number=order["number"], deadline=_date(deadline, lang), days=(deadline - today).days
    )
