"""Webhooks: subscriptions' signing secrets (``secrets``), which events a subscription gets
(``matching``), where the ledger may send them (``targets``) and the delivery worker
(``delivery``). The outbox they read is filled by ``projections.webhook_outbox``."""
