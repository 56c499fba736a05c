"""The demo shop's written answers (``routing.IntentAnswer``): what a shop writes once for
its commonest general questions, so that they are answered in its own words, at once and
with no model. They follow the demo policies (orders/demo_shop.py); the account how-tos
describe the demo shop's own (imagined) site.
"""

from __future__ import annotations

from routing.answers import written_answers_save
from routing.models import IntentAnswer

# {(intent, language): (answer, whether it also answers questions naming specifics)}
DEMO_ANSWERS: dict[tuple[str, str], tuple[str, bool]] = {
    ("greeting", "en"): (
        "Hi! I can help with your orders, parcels, returns and refunds, and with questions "
        "about shipping, payment or our policies. What can I do for you?",
        False,
    ),
    ("greeting", "de"): (
        "Hallo! Ich helfe Ihnen gern bei Bestellungen, Paketen, Rücksendungen und "
        "Erstattungen und beantworte Fragen zu Versand, Zahlung und unseren Richtlinien. "
        "Was kann ich für Sie tun?",
        False,
    ),
    ("greeting", "fr"): (
        "Bonjour ! Je peux vous aider pour vos commandes, colis, retours et remboursements, "
        "et répondre à vos questions sur la livraison, le paiement ou nos conditions. Que "
        "puis-je faire pour vous ?",
        False,
    ),
    ("greeting", "es"): (
        "¡Hola! Puedo ayudarle con sus pedidos, envíos, devoluciones y reembolsos, y con "
        "preguntas sobre envío, pago o nuestras políticas. ¿En qué puedo ayudarle?",
        False,
    ),
    ("thanks_goodbye", "en"): (
        "You're welcome! If anything else comes up, just write here.",
        False,
    ),
    ("thanks_goodbye", "de"): (
        "Gern geschehen! Wenn noch etwas ist, schreiben Sie einfach hier.",
        False,
    ),
    ("thanks_goodbye", "fr"): (
        "Avec plaisir ! Si vous avez une autre question, écrivez-nous simplement ici.",
        False,
    ),
    ("thanks_goodbye", "es"): (
        "¡De nada! Si necesita algo más, escríbanos aquí.",
        False,
    ),
    ("bot_identity", "en"): (
        "I'm the shop's virtual assistant. Once you're signed in I can look up your orders, "
        "parcels and refunds, and I answer questions about our policies. Whenever you'd "
        "rather talk to a person from our support team, just say so.",
        False,
    ),
    ("bot_identity", "de"): (
        "Ich bin der digitale Assistent des Shops. Wenn Sie angemeldet sind, sehe ich Ihre "
        "Bestellungen, Pakete und Erstattungen nach, und ich beantworte Fragen zu unseren "
        "Richtlinien. Möchten Sie lieber mit einem Menschen aus unserem Support-Team "
        "sprechen, sagen Sie es einfach.",
        False,
    ),
    ("start_over", "en"): ("Sure, let's start again. What can I help you with?", False),
    ("returns_policy", "en"): (
        "You can return anything within 30 days of delivery, for any reason. Items must be "
        "unused, unwashed and in their original packaging with the tags attached (please "
        "try shoes on indoors only); opened electronics can be returned if complete and "
        "undamaged. To start a return, sign in and open the order, or send me the order "
        "number here, and choose the items: we email you a prepaid label. Returns are free "
        "from the United States and the United Kingdom; from the EU the label costs "
        "USD 7.95, deducted from your refund. Gift cards and personalised items can't be "
        "returned.",
        False,
    ),
    ("returns_policy", "de"): (
        "Sie können alles innerhalb von 30 Tagen nach der Zustellung ohne Angabe von "
        "Gründen zurückgeben. Die Artikel müssen unbenutzt, ungewaschen und originalverpackt "
        "sein, mit Etiketten (Schuhe bitte nur drinnen anprobieren). Für eine Rücksendung "
        "melden Sie sich an und öffnen die Bestellung, oder Sie schicken mir hier die "
        "Bestellnummer: Sie erhalten ein vorfrankiertes Etikett per E-Mail. Aus der EU "
        "kostet das Etikett 7,95 USD, die von der Erstattung abgezogen werden. "
        "Geschenkkarten und personalisierte Artikel sind von der Rückgabe ausgeschlossen.",
        False,
    ),
    ("refund_policy", "en"): (
        "Refunds always go back to the way you paid (card, PayPal, Apple Pay, Google Pay or "
        "Klarna), never as cash or to another card. For a return we refund once the item "
        "has reached our warehouse and been checked, usually within four working days; your "
        "bank may take another 3 to 5 business days to show it. A cancelled order is "
        "refunded in full within a few hours. When you return a whole order we refund "
        "everything except the original shipping fee.",
        False,
    ),
    ("shipping_options", "en"): (
        "In the United States we ship with UPS, FedEx and USPS; in the United Kingdom with "
        "Royal Mail, DPD and DHL; to Germany, France, Spain and the rest of the EU with DHL, "
        "DPD and UPS. You get an email with the carrier and tracking number as soon as each "
        "parcel leaves us.",
        False,
    ),
    ("shipping_cost", "en"): (
        "United States: free on orders over USD 75 after discounts, otherwise USD 5.95. "
        "United Kingdom and the EU: free on orders over USD 100, otherwise USD 9.95, with "
        "import duties and VAT included, so there is nothing more to pay on delivery. We "
        "never charge shipping twice when an order comes in several parcels.",
        False,
    ),
    ("shipping_countries", "en"): (
        "We deliver to the United States, the United Kingdom, and Germany, France, Spain and "
        "every other EU country. Those are all the destinations we ship to.",
        True,
    ),
    ("delivery_times", "en"): (
        "We pack orders within one to two business days of payment. Delivery then takes 2 "
        "to 5 business days in the United States, 1 to 3 in the United Kingdom, and 3 to 6 "
        "in Germany, France, Spain and the rest of the EU. Signed in, ask me about your "
        "order and I'll tell you its carrier's estimate.",
        False,
    ),
    ("delivery_times", "de"): (
        "Wir verpacken Bestellungen innerhalb von ein bis zwei Werktagen nach der Zahlung. "
        "Die Lieferung dauert dann in den USA 2 bis 5 Werktage, im Vereinigten Königreich 1 "
        "bis 3 und nach Deutschland, Frankreich, Spanien und in die übrige EU 3 bis 6 "
        "Werktage.",
        False,
    ),
    ("payment_methods", "en"): (
        "We accept Visa, Mastercard and American Express, PayPal, Apple Pay and Google Pay. "
        "In the United Kingdom and Germany you can also pay later with Klarna (within 30 "
        "days), and in Germany by bank transfer. Our gift cards can be combined with one "
        "other payment method. Prices are in US dollars and you are charged in US dollars.",
        True,
    ),
    ("payment_methods", "de"): (
        "Wir akzeptieren Visa, Mastercard und American Express, PayPal, Apple Pay und Google "
        "Pay. In Deutschland und im Vereinigten Königreich können Sie auch später mit Klarna "
        "zahlen (innerhalb von 30 Tagen), in Deutschland außerdem per Überweisung. Die "
        "Preise sind in US-Dollar.",
        True,
    ),
    ("payment_instalments", "en"): (
        "We don't offer payment in instalments. In the United Kingdom and Germany you can "
        "pay later with Klarna, within 30 days.",
        False,
    ),
    ("cash_on_delivery", "en"): (
        "We don't take cash on delivery: payment is taken when you place your order, by "
        "card, PayPal, Apple Pay or Google Pay (Klarna and bank transfer in some countries).",
        False,
    ),
    ("cancellation_fee", "en"): (
        "Cancelling costs nothing. An order that hasn't left our warehouse yet (pending or "
        "processing) can be cancelled and is refunded in full within a few hours. Once it "
        "has shipped it can't be cancelled any more, but you can return it within 30 days "
        "of delivery.",
        False,
    ),
    ("warranty_policy", "en"): (
        "Everything we sell has a 2-year warranty (730 days from delivery) against defects "
        "in materials and workmanship, on top of your statutory rights: seams that come "
        "apart, zips or buckles that fail, membranes that delaminate, soles that separate, "
        "electronics that stop working. It doesn't cover wear and tear, accidents or "
        "misuse. To claim, send us your order number, a short description and, if you can, "
        "a photo: we repair, replace or refund, and pay for any return shipping.",
        False,
    ),
    ("contact_support", "en"): (
        "You're talking to our support chat right now: I can answer most questions here, "
        "and if you'd like a person from our support team, just say so and I'll pass you "
        "on.",
        False,
    ),
    ("create_account", "en"): (
        "Choose 'Sign in' at the top of any page, then 'Create an account', and enter your "
        "name, email address and a password. You can also create one at checkout. With an "
        "account you can follow your orders and start returns yourself.",
        False,
    ),
    ("recover_password", "en"): (
        "Choose 'Sign in', then 'Forgot your password?', and enter your account's email "
        "address: we email you a link to set a new password (it works for one hour). No "
        "email after a few minutes? Check your spam folder, or ask me for a person from our "
        "support team.",
        False,
    ),
    ("edit_account", "en"): (
        "Sign in and open 'My account', then 'Profile', to change your name, email address, phone "
        "number or password; saved addresses are under 'Addresses'. An order already placed "
        "keeps the address it was placed with: ask me if one needs changing.",
        False,
    ),
    ("delete_account", "en"): (
        "To close your account, write to privacy@example.com from the email address on it; "
        "we answer within 30 days. Order and payment records are kept for seven years, as "
        "tax law requires.",
        False,
    ),
    ("newsletter", "en"): (
        "To get our newsletter, tick 'Newsletter' under 'My account', then 'Profile', (or at "
        "checkout). To stop it, use the unsubscribe link at the bottom of any of our emails, "
        "or untick it there. We only send marketing emails to people who opted in.",
        False,
    ),
    ("place_order", "en"): (
        "Choose the size and colour on the product's page and add it to your basket. Open "
        "the basket, choose 'Checkout', enter your address, pick a payment method and "
        "confirm. You get a confirmation email at once, and another with tracking when your "
        "parcel leaves us.",
        False,
    ),
    ("store_locations", "en"): (
        "We're an online shop only, with no stores or showrooms to visit: our warehouses in "
        "the United States and the Netherlands ship every order.",
        False,
    ),
    ("trial_period", "en"): (
        "We have no trial offer as such, but you can return anything unused within 30 days "
        "of delivery, for any reason.",
        False,
    ),
    ("feedback", "en"): (
        "Thank you for wanting to tell us! Signed in, you can review each product on its "
        "page once your order has arrived. For anything else you'd like us to hear, ask me "
        "for a person from our support team.",
        False,
    ),
}


def demo_answers_install() -> int:
    return written_answers_save(DEMO_ANSWERS)


def demo_answers_remove() -> None:
    """Take the demo's answers out again (a shop that has written none, as a new install);
    answers of the demo's intents and languages only."""
    for intent, language in DEMO_ANSWERS:
        IntentAnswer.objects.filter(intent__name=intent, language=language).delete()
