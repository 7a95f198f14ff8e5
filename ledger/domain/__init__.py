"""The pure domain model of the ledger.

State is folded from stored event envelopes (``fold_*``); commands are pure functions
(``decide_*``) that either return the :class:`~ledger.domain.base.NewEvent` values to append
or raise :class:`ledger.errors.RuleViolation` with a stable code (listed with a description
in :mod:`ledger.domain.rules`). No I/O, no clock reads, no randomness except through
parameters (``now``, ``rng``, ids passed in).

Contract with the application service:

* Fold each stream the decision needs, call ``decide_*``, append every returned event
  atomically, expecting the versions of the states decided on (new streams at version 0).
* On :class:`~ledger.domain.base.RecordedRefusal` append ``error.events`` (the
  ``OperationRefused`` / ``AccessDenied`` records), then answer with the error.
* Events whose type is in :data:`ledger.domain.esign.REQUIRED_MEANING` are emitted on one
  stream only; the service puts the manifestation checked by the decision into that
  envelope's ``esign`` and has the signer sign the record digest (see ``esign``). A
  signature offered on a step of another type is kept the same way when its spec takes one
  (``EventSpec.signature``), else refused (``ledger.services.executor.signed_index``).

Modules: ``case`` (enrolment, donors, hold/cancel, allocation), ``unit`` (unit state and
guards), ``labelling`` (label, collect, scan), ``custody`` (handover, pack, ship),
``conditions`` (temperatures, excursions), ``manufacturing`` (derive, QC, release,
quarantine, disposal), ``infusion``, ``corrections``, ``users`` (accounts, sign-in,
signing keys), ``registry`` (sites, devices), ``credentials`` and ``esign`` (crypto),
``identifiers`` (COI / label ids, pseudonyms), ``events_*`` and ``catalogue``.
"""
