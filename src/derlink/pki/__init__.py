"""derlink.pki: the control plane's own X.509 PKI.

A root CA with two issuing CAs on disk (:class:`Pki`), the IEEE 2030.5 device certificate profile
with LFDI/SFDI, IEC 62351-8 roles in certificates (IECUserRoles), revocation with CRLs, and the
one verification function every component uses (:func:`verify_certificate`). ECDSA P-256 and
SHA-256 throughout. Time is always passed in (``now``); nothing here reads the clock.
"""

from derlink.pki.authority import CA_FILES, ISSUING_CAS, Pki, PkiPaths
from derlink.pki.clock import NO_EXPIRY
from derlink.pki.crl import DEFAULT_NEXT_UPDATE
from derlink.pki.errors import CertificateError, PassphraseError, PkiError
from derlink.pki.files import (
    certificate_der,
    certificate_pem,
    load_certificate,
    load_certificates,
    load_crl,
    parse_certificate,
    parse_certificates,
    parse_crl,
)
from derlink.pki.identity import (
    HardwareModuleName,
    is_valid_sfdi,
    lfdi,
    lfdi_of_certificate,
    normalise_lfdi,
    sfdi,
    sfdi_check_digit,
    sfdi_from_lfdi,
    sfdi_of_certificate,
)
from derlink.pki.index import IssuedRecord
from derlink.pki.issued import Issued, check_output, output_paths
from derlink.pki.keys import generate_key, load_private_key
from derlink.pki.profiles import Profile
from derlink.pki.roles import (
    Role,
    UserRoleInfo,
    decode_user_roles,
    encode_user_roles,
    parse_role,
)
from derlink.pki.summary import CertificateSummary, summarise
from derlink.pki.verify import VerifiedCertificate, verify_certificate

__all__ = [
    "CA_FILES",
    "DEFAULT_NEXT_UPDATE",
    "ISSUING_CAS",
    "NO_EXPIRY",
    "CertificateError",
    "CertificateSummary",
    "HardwareModuleName",
    "Issued",
    "IssuedRecord",
    "PassphraseError",
    "Pki",
    "PkiError",
    "PkiPaths",
    "Profile",
    "Role",
    "UserRoleInfo",
    "VerifiedCertificate",
    "certificate_der",
    "certificate_pem",
    "check_output",
    "decode_user_roles",
    "encode_user_roles",
    "generate_key",
    "is_valid_sfdi",
    "lfdi",
    "lfdi_of_certificate",
    "load_certificate",
    "load_certificates",
    "load_crl",
    "load_private_key",
    "normalise_lfdi",
    "output_paths",
    "parse_certificate",
    "parse_certificates",
    "parse_crl",
    "parse_role",
    "sfdi",
    "sfdi_check_digit",
    "sfdi_from_lfdi",
    "sfdi_of_certificate",
    "summarise",
    "verify_certificate",
]
