"""Object identifiers the PKI writes and reads.

derlink has no IANA private enterprise number, so its own identifiers live under a UUID arc
(ITU-T X.667 / ISO/IEC 9834-8: ``2.25.<UUID as an integer>``), which needs no registration and
cannot collide. The derlink arc is UUID ``1feff523-55a1-406d-96fe-883b40f0f109``:

=====================  ============================================================
``<arc>.1.1``          hwType of derlink-issued device certificates (generic DER device)
``<arc>.2.1``          policy: TLS server certificate of the control plane
``<arc>.2.2``          policy: operator certificate (people, IEC 62351-8 roles)
``<arc>.2.3``          policy: aggregator certificate (organisations acting for devices)
``<arc>.2.4``          policy: signer certificate (audit log signed tree heads)
``<arc>.2.5``          policy: end-to-end certificate (sessions, group keys)
``<arc>.2.6``          policy: XMPP client certificate (SASL EXTERNAL, id-on-xmppAddr)
``<arc>.3.1``          extended key usage: signing audit-log tree heads
``<arc>.3.2``          extended key usage: end-to-end handshakes (never TLS)
=====================  ============================================================

Numbers below the arc are never reused for another meaning.
"""

from __future__ import annotations

from cryptography.x509 import ObjectIdentifier

DERLINK_ARC = "2.25.42451998808361965666545067710194184457"

#: hwType written into HardwareModuleName when the caller names none.
DERLINK_HW_TYPE = ObjectIdentifier(f"{DERLINK_ARC}.1.1")

POLICY_SERVER = ObjectIdentifier(f"{DERLINK_ARC}.2.1")
POLICY_OPERATOR = ObjectIdentifier(f"{DERLINK_ARC}.2.2")
POLICY_AGGREGATOR = ObjectIdentifier(f"{DERLINK_ARC}.2.3")
POLICY_SIGNER = ObjectIdentifier(f"{DERLINK_ARC}.2.4")
POLICY_E2E = ObjectIdentifier(f"{DERLINK_ARC}.2.5")
POLICY_XMPP_CLIENT = ObjectIdentifier(f"{DERLINK_ARC}.2.6")

EKU_TREE_HEAD_SIGNING = ObjectIdentifier(f"{DERLINK_ARC}.3.1")
EKU_E2E = ObjectIdentifier(f"{DERLINK_ARC}.3.2")

#: id-on-hardwareModuleName (RFC 4108 5), the otherName of 2030.5 device certificates.
HARDWARE_MODULE_NAME = ObjectIdentifier("1.3.6.1.5.5.7.8.4")

#: id-on-xmppAddr (RFC 6120 13.7.1.4): the JID, as a UTF8String otherName of subjectAltName.
XMPP_ADDR = ObjectIdentifier("1.3.6.1.5.5.7.8.5")

#: id-IECuserRoles (IEC 62351-8 9.3): the X.509 extension carrying RBAC roles.
IEC_USER_ROLES = ObjectIdentifier("1.2.840.10070.8.1")

#: anyPolicy (RFC 5280 4.2.1.4), carried by the root like a 2030.5 SERCA.
ANY_POLICY = ObjectIdentifier("2.5.29.32.0")

# IEEE 2030.5-2018 6.11.7.2 (device types) and 6.11.7.3 (policies), arc 1.3.6.1.4.1.40732.
SEP2_ARC = "1.3.6.1.4.1.40732"
SEP2_DEVICE_GENERIC = ObjectIdentifier(f"{SEP2_ARC}.1.1")
SEP2_DEVICE_MOBILE = ObjectIdentifier(f"{SEP2_ARC}.1.2")
SEP2_DEVICE_POST_MANUFACTURE = ObjectIdentifier(f"{SEP2_ARC}.1.3")
SEP2_POLICY_TEST = ObjectIdentifier(f"{SEP2_ARC}.2.1")
SEP2_POLICY_SELF_SIGNED = ObjectIdentifier(f"{SEP2_ARC}.2.2")
SEP2_POLICY_SERVICE_PROVIDER = ObjectIdentifier(f"{SEP2_ARC}.2.3")
SEP2_POLICY_BULK = ObjectIdentifier(f"{SEP2_ARC}.2.4")

#: The 2030.5 policy OIDs by the short names the CLI accepts.
SEP2_POLICIES: dict[str, ObjectIdentifier] = {
    "generic": SEP2_DEVICE_GENERIC,
    "mobile": SEP2_DEVICE_MOBILE,
    "post-manufacture": SEP2_DEVICE_POST_MANUFACTURE,
    "test": SEP2_POLICY_TEST,
    "self-signed": SEP2_POLICY_SELF_SIGNED,
    "service-provider": SEP2_POLICY_SERVICE_PROVIDER,
    "bulk": SEP2_POLICY_BULK,
}
SEP2_POLICY_OIDS = frozenset(SEP2_POLICIES.values())
