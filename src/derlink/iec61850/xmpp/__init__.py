"""IEC 61850-8-2 over XMPP: the derlink-run XMPP server and the client transport.

:mod:`.server` configures and runs ejabberd or Prosody (:class:`~.server.XmppServer`); the
transport modules of this package are the slixmpp-based clients that use it.
"""
