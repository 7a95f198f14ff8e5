"""Keys: the ledger's sealing keys (``sealing``, kept on disk by ``keystore``), and the device and
user keys learnt from the sealed key lifecycle events (``keyevents``, ``keydir``)."""
