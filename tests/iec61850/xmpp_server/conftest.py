"""The shared XMPP server fixtures (one Prosody and one ejabberd for the session)."""

from support.xmpp import ejabberd_server, prosody_server, xmpp_server

__all__ = ["ejabberd_server", "prosody_server", "xmpp_server"]
