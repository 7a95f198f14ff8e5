"""The pure domain model of the ledger.

State is folded from stored event envelopes (``fold_*``); commands are pure functions
(``decide_*``) that either return the new events to append or raise
:class:`ledger.errors.RuleViolation` with a stable code (listed in :mod:`ledger.domain.rules`).
No I/O, no clock reads, no randomness except through parameters.
"""
