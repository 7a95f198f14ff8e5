"""The event store: the one writer (:mod:`.application`, ``Ledger``) and what it stands on.

``admission`` checks a draft before anything is written, against the ``event_types`` the ledger
accepts; ``drafts`` and ``records`` are what goes in and what is stored; ``recorders`` and
``group_commit`` extend the library's SQL recorders; ``database`` names the database,
``migrations`` runs its schema, and ``rawstore`` reads the event table with plain SQL.
"""
