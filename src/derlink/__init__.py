"""derlink: a secure control plane for fleets of distributed energy resources.

The package speaks IEEE 2030.5 (SEP 2) and IEC 61850 over XMPP, keeps a tamper-evident audit
log, and runs its own X.509 PKI. See ``ARCHITECTURE.md`` for the layers and import rules.
"""

__version__ = "0.1.0"
