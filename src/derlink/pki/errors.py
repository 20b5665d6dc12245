"""Errors of the PKI: every one is a :class:`~derlink.errors.DerlinkError` with one clear line."""

from __future__ import annotations

from derlink.errors import DerlinkError


class PkiError(DerlinkError):
    """A PKI operation failed for a reason the user can fix (file, passphrase, serial...)."""

    exit_code = 4


class PassphraseError(PkiError):
    """A CA key is encrypted and no passphrase, or the wrong one, was given."""


class CertificateError(PkiError):
    """A certificate was refused by :func:`~derlink.pki.verify.verify_certificate`."""
