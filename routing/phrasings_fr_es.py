"""French and Spanish phrasings for the default intent catalogue (``routing.catalogue``).

Written for this project in December 2026, like the German ones (``routing.phrasings_de``):
the bot answers in four languages, but the catalogue had almost no French or Spanish,
and the English embedding model finds their intents only through phrasings that share
their words. Migration 0010 installs exactly these into databases that already hold the
catalogue. ``bench/languages.py`` measures them on messages written separately.
"""

from __future__ import annotations

PHRASINGS_FR: dict[str, list[str]] = {
    # --- tier 0 ----------------------------------------------------------------------
    "order_status": [
        "où est ma commande",
        "où en est ma commande",
        "où est mon colis",
        "quel est le statut de ma commande",
        "ma commande est-elle partie",
        "ma commande a-t-elle été expédiée",
        "est-ce que mon colis est en route",
        "vous avez envoyé ma commande ?",
        "des nouvelles de ma commande 4410287 ?",
        "ma commande est toujours en préparation, c'est normal ?",
        "pouvez-vous vérifier l'état de ma commande",
    ],
    "track_order": [
        "numéro de suivi svp",
        "comment suivre mon colis",
        "je n'ai pas reçu le lien de suivi",
        "quel transporteur livre ma commande",
        "c'est colissimo ou chronopost ?",
        "pouvez-vous m'envoyer le numéro de suivi de ma commande",
        "où trouver le suivi de mon colis",
    ],
    "delivery_estimate": [
        "quand vais-je recevoir ma commande",
        "quand arrive mon colis",
        "ma commande arrivera quand",
        "date de livraison prévue pour ma commande ?",
        "est-ce que je serai livré avant samedi",
        "mon colis arrive demain ?",
        "dans combien de jours je reçois ma commande",
    ],
    "refund_status": [
        "où en est mon remboursement",
        "je n'ai toujours pas été remboursé",
        "quand serai-je remboursé",
        "le remboursement de mon retour a-t-il été fait",
        "vous avez reçu mon retour ? je n'ai pas encore l'argent",
        "combien m'avez-vous remboursé",
        "remboursement pas encore reçu sur ma carte",
    ],
    "return_window": [
        "puis-je encore retourner ma commande",
        "est-il trop tard pour renvoyer la veste",
        "jusqu'à quand puis-je retourner mon article",
        "le délai de retour est-il dépassé pour ma commande",
        "je peux encore renvoyer les chaussures reçues il y a trois semaines ?",
        "il me reste combien de jours pour le retour",
    ],
    # --- tier 1 ----------------------------------------------------------------------
    "returns_policy": [
        "comment faire un retour",
        "quelle est votre politique de retour",
        "le retour est-il gratuit",
        "faut-il l'emballage d'origine pour renvoyer un article",
    ],
    "refund_policy": [
        "combien de temps prend un remboursement",
        "les frais de port sont-ils remboursés",
    ],
    "shipping_cost": [
        "combien coûte la livraison",
        "quels sont les frais de port",
        "livraison gratuite à partir de combien",
    ],
    "delivery_times": [
        "quels sont les délais de livraison",
        "combien de temps pour être livré en belgique",
    ],
    "payment_methods": [
        "quels moyens de paiement acceptez-vous",
        "je peux payer avec paypal ?",
    ],
    "cancel_order": [
        "je veux annuler ma commande",
        "annulez la commande 4410287 svp",
        "comment annuler une commande",
    ],
    "change_order": [
        "puis-je modifier ma commande",
        "je voudrais changer la taille dans ma commande avant l'envoi",
    ],
    "refund_request": [
        "je veux être remboursé",
        "remboursez-moi s'il vous plaît",
        "je demande le remboursement de ma commande",
    ],
    "address_change": [
        "je veux changer l'adresse de livraison",
        "je me suis trompé d'adresse",
    ],
    "get_invoice": [
        "j'ai besoin d'une facture",
        "pouvez-vous m'envoyer la facture de ma commande",
    ],
    "recover_password": [
        "mot de passe oublié",
        "je n'arrive plus à me connecter à mon compte",
    ],
    "greeting": ["bonjour", "salut, j'ai une question"],
    "thanks_goodbye": ["merci beaucoup, bonne journée", "merci, c'est tout"],
    # --- tier 2 ----------------------------------------------------------------------
    "delivery_problem": [
        "mon colis est en retard",
        "le suivi dit livré mais je n'ai rien reçu",
        "mon colis est perdu",
        "ma livraison est bloquée depuis une semaine",
    ],
    "product_recommendation": [
        "quelle tente me conseillez-vous pour deux personnes",
        "vous me recommandez quel sac de couchage pour l'hiver",
    ],
    "sizing": [
        "quelle taille choisir pour la veste",
        "les chaussures taillent grand ou petit ?",
    ],
    "complaint": [
        "je veux faire une réclamation",
        "je ne suis pas satisfait de votre service",
        "je suis déçu de ma commande",
    ],
    # --- tier 3 ----------------------------------------------------------------------
    "damaged_or_wrong_item": [
        "le colis est arrivé abîmé",
        "j'ai reçu le mauvais article",
        "l'article est cassé",
        "il manque une pièce dans mon colis",
    ],
    "exchange": [
        "je voudrais échanger contre une autre taille",
        "puis-je échanger la couleur",
    ],
    "human_agent": [
        "je veux parler à un conseiller",
        "je voudrais parler à un humain",
        "passez-moi une vraie personne",
        "un agent du service client svp",
    ],
    "angry_or_urgent": [
        "c'est inadmissible",
        "j'en ai ras le bol",
        "c'est urgent, aidez-moi tout de suite",
        "je suis furieux",
    ],
    "dispute": [
        "je vais porter plainte",
        "je contacte mon avocat",
        "je fais une opposition sur ma carte",
        "j'ai ouvert un litige paypal",
    ],
}

PHRASINGS_ES: dict[str, list[str]] = {
    # --- tier 0 ----------------------------------------------------------------------
    "order_status": [
        "dónde está mi pedido",
        "cuál es el estado de mi pedido",
        "dónde está mi paquete",
        "ya enviaron mi pedido",
        "mi pedido ya salió",
        "mi pedido está en camino",
        "qué pasa con mi pedido 4410287",
        "mi pedido sigue en preparación, es normal",
        "pueden revisar el estado de mi compra",
        "hay novedades de mi pedido",
    ],
    "track_order": [
        "número de seguimiento por favor",
        "cómo rastreo mi paquete",
        "no me llegó el enlace de seguimiento",
        "qué transportista lleva mi pedido",
        "me pasan el tracking de mi compra",
        "dónde veo el seguimiento del envío",
    ],
    "delivery_estimate": [
        "cuándo llega mi pedido",
        "cuándo recibiré mi paquete",
        "fecha estimada de entrega de mi pedido",
        "llegará mi pedido antes del sábado",
        "mi paquete llega mañana",
        "en cuántos días me llega el pedido",
    ],
    "refund_status": [
        "dónde está mi reembolso",
        "todavía no me han devuelto el dinero",
        "cuándo me devuelven el dinero de la devolución",
        "ya procesaron mi reembolso",
        "recibieron mi devolución? aún no tengo el dinero",
        "cuánto me reembolsaron",
    ],
    "return_window": [
        "todavía puedo devolver mi pedido",
        "hasta cuándo puedo devolver la chaqueta",
        "ya pasó el plazo de devolución de mi pedido",
        "puedo devolver las zapatillas que recibí hace tres semanas",
        "cuántos días me quedan para devolverlo",
    ],
    # --- tier 1 ----------------------------------------------------------------------
    "returns_policy": [
        "cómo hago una devolución",
        "cuál es su política de devoluciones",
        "la devolución es gratis",
    ],
    "refund_policy": [
        "cuánto tarda un reembolso",
        "me devuelven también los gastos de envío",
    ],
    "shipping_cost": [
        "cuánto cuesta el envío",
        "cuáles son los gastos de envío",
        "envío gratis a partir de cuánto",
    ],
    "delivery_times": [
        "cuánto tarda el envío",
        "plazos de entrega a méxico",
    ],
    "payment_methods": [
        "qué formas de pago aceptan",
        "puedo pagar con paypal",
    ],
    "cancel_order": [
        "quiero cancelar mi pedido",
        "cancelen el pedido 4410287 por favor",
        "cómo cancelo una compra",
    ],
    "change_order": [
        "puedo modificar mi pedido",
        "quiero cambiar la talla en mi pedido antes del envío",
    ],
    "refund_request": [
        "quiero que me devuelvan el dinero",
        "solicito el reembolso de mi pedido",
        "devuélvanme mi dinero",
    ],
    "address_change": [
        "quiero cambiar la dirección de entrega",
        "me equivoqué de dirección",
    ],
    "get_invoice": [
        "necesito una factura",
        "me pueden enviar la factura de mi pedido",
    ],
    "recover_password": [
        "olvidé mi contraseña",
        "no puedo entrar en mi cuenta",
    ],
    "greeting": ["hola", "buenas, tengo una pregunta"],
    "thanks_goodbye": ["muchas gracias, adiós", "gracias, eso es todo"],
    # --- tier 2 ----------------------------------------------------------------------
    "delivery_problem": [
        "mi pedido lleva retraso",
        "el seguimiento dice entregado pero no recibí nada",
        "mi paquete se perdió",
        "mi envío está parado desde hace una semana",
    ],
    "product_recommendation": [
        "qué tienda de campaña me recomiendan para dos personas",
        "qué saco de dormir me aconsejas para invierno",
    ],
    "sizing": [
        "qué talla elijo para la chaqueta",
        "las zapatillas tallan grande o pequeño",
    ],
    "complaint": [
        "quiero poner una queja",
        "no estoy satisfecho con su servicio",
        "estoy decepcionado con mi compra",
    ],
    # --- tier 3 ----------------------------------------------------------------------
    "damaged_or_wrong_item": [
        "el paquete llegó dañado",
        "me enviaron el artículo equivocado",
        "el producto llegó roto",
        "falta una pieza en mi pedido",
    ],
    "exchange": [
        "quiero cambiarlo por otra talla",
        "puedo cambiar el color",
    ],
    "human_agent": [
        "quiero hablar con una persona",
        "quiero hablar con un agente",
        "pásame con un humano",
        "necesito hablar con alguien de atención al cliente",
    ],
    "angry_or_urgent": [
        "esto es inaceptable",
        "estoy harto",
        "es urgente, ayúdenme ya",
        "qué vergüenza de servicio",
    ],
    "dispute": [
        "voy a poner una denuncia",
        "voy a hablar con mi abogado",
        "voy a pedir un contracargo al banco",
        "abrí una disputa en paypal",
    ],
}
