"""GS1 EPCIS 2.0 / CBV 2.0: validate, capture (map onto domain commands), query and export.

``validation`` checks a JSON / JSON-LD document against the standard's JSON schema and the
CBV rules the schema cannot express; ``mapping`` turns accepted events into application
service steps; ``capture`` applies them all-or-nothing and records the document;
``export`` and ``query`` render ledger events back as EPCIS events. See docs/EPCIS.md.
"""
