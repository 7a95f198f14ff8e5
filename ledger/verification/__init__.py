"""Offline verification, with no running server: every stream of the store (``verify``), the global
log's Merkle tree and checkpoints (``verify_log``), and one case's dossier (``dossier``)."""
