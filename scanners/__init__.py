"""Pure scanning and label rendering: GS1, GS1 Digital Link, ISBT 128, RFID EPC, own labels.

Imports nothing from ``ledger``, ``api`` or ``projections`` and does no I/O (rendering
returns bytes). Heavy libraries load on first use: import from the submodules, e.g.
``from scanners.parse import parse_scan`` or ``from scanners.labels import LabelData``.
"""
