"""Webhooks (our extension): where the registry POSTs its change events, signed, and the log
of those deliveries. Managed with the server's admin token only."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Webhook", "WebhookDelivery"]


@dataclass
class Webhook:
    """A registered webhook, as the server shows it (never its secret).

    Attributes:
        id: The webhook's id.
        url: Where deliveries are POSTed.
        events: The event types it wants (``model_version.created``, ...; ``*``: all).
        description: Free text.
        create_time_since_epoch: When it was registered (ms).
        cursor: The newest event cursor it is done with.
        last_status: Its last delivery's outcome, ``delivered`` or ``failed`` (``None``:
            none yet).
        last_time_since_epoch: When that delivery ended (ms).
        last_error: Why it failed.
    """

    id: str
    url: str
    events: list[str] = field(default_factory=list)
    description: str | None = None
    create_time_since_epoch: int | None = None
    cursor: str | None = None
    last_status: str | None = None
    last_time_since_epoch: int | None = None
    last_error: str | None = None


@dataclass
class WebhookDelivery:
    """One delivery of one event to a webhook, from its delivery log.

    Attributes:
        id: The delivery id (the ``X-Model-Registry-Delivery-Id`` of its attempts).
        webhook_id: The webhook it went to.
        cursor: The cursor of the event delivered.
        event_type: The event's type (``model_version.created``, ...).
        time_since_epoch: When the delivery ended (ms).
        attempts: How many times it was POSTed.
        status: ``delivered`` or ``failed``.
        http_status: The receiver's last HTTP status (``None``: no answer came).
        error: Why it failed.
    """

    id: str
    webhook_id: str
    cursor: str
    event_type: str
    time_since_epoch: int
    attempts: int
    status: str
    http_status: int | None = None
    error: str | None = None
