"""ASGI entry point: HTTP goes to Django, websockets to the Channels consumers."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from support_bot.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The widget runs on the shop's own pages: their origins must be allowed too.
        "websocket": OriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            [*settings.ALLOWED_HOSTS, *settings.WIDGET_ALLOWED_ORIGINS],
        ),
    }
)

if settings.CELERY_TASK_ALWAYS_EAGER:
    # The embedded default answers in this process: load the embedding model now rather
    # than on the first shopper's message (and then freeze what was loaded).
    from routing.warm import warm_up_in_background

    warm_up_in_background()
else:
    # A server of the real topology loads no model: what Django and the consumers loaded
    # on import is what lives as long as the process.
    from routing.warm import freeze_loaded

    freeze_loaded()
