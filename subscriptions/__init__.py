"""The event bus, the outbox relay and the subscription streams."""
