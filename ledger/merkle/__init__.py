"""Pure, I/O-free transparency-log core (RFC 9162 Merkle tree, proofs, C2SP checkpoints).

Modelled on transparency-dev (tessera, ``github.com/transparency-dev/merkle``): hashing is
defined once in :mod:`.hashing`, proofs are verified/generated in :mod:`.proofs`, the tree is
built incrementally in :mod:`.tree`, and checkpoints are signed notes (:mod:`.checkpoint`) whose
signer is injected by the caller. Witness files (:mod:`.witness`) carry signed checkpoints out of
the operator's reach.
"""

from .checkpoint import (
    Checkpoint,
    CheckpointError,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    NoteSigner,
    NoteVerifier,
    ed25519_key_hash,
    format_body,
    open_checkpoint,
    open_note,
    sign_checkpoint,
)
from .hashing import EMPTY_ROOT, HASH_SIZE, event_leaf_hash, leaf_hash, node_hash
from .proofs import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    root_at,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from .tree import CompactRange, MemoryNodeStore, Node, TreeBuilder, right_edge

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "CheckpointError",
    "CompactRange",
    "Ed25519NoteSigner",
    "Ed25519NoteVerifier",
    "MemoryNodeStore",
    "Node",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "TreeBuilder",
    "consistency_proof",
    "ed25519_key_hash",
    "event_leaf_hash",
    "format_body",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "right_edge",
    "root_at",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "sign_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
