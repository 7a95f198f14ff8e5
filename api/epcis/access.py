"""Who may use the EPCIS endpoints, defined here, additively to ``api.policy``.

Capture writes (through the domain, where each mapped step is also checked against
``EVENT_ROLES``); query reads. A device may capture (a logger cloud, a scanner gateway) but
not query.
"""

from __future__ import annotations

from ..policy import READERS

CAPTURE_ROLES: tuple[str, ...] = ("integrator", "operator", "courier", "device")
QUERY_ROLES: tuple[str, ...] = READERS
