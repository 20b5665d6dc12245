"""End-to-end security: handshakes per second, protected messages per second, added latency.

Workload: a real derlink PKI in a temporary directory; a control centre (initiator, verifying
through the PKI with its current CRL) and a device (responder, verifying with only the trust
anchor and the CRLs). Handshake = HandshakeReq + HandshakeAcc, both signed (ECDSA P-256) and
both certificate paths verified by OpenSSL with CRL checking, two ECDH, HKDF. Records: one
session, payloads of 200 B and 2 KB, integrity-only (AES-GCM as GMAC over the clear payload)
and confidential (AES-256-GCM). Group: HMAC-SHA256-128 and AES-256-GCM group messages between
two members. Method: wall clock (time.perf_counter) in one process on this machine; throughput
counts seal + open of each message on the same core (sender and receiver share the CPU);
latency is the per-message seal + open time (mean, median, p99 of 5,000 single measurements;
the mean includes preemption by other processes on a shared machine).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from derlink.e2e import (
    AnchorVerifier,
    Credentials,
    GroupAlgorithm,
    GroupKeyServer,
    GroupMember,
    PkiVerifier,
    Session,
    SessionConfig,
)
from derlink.pki import Pki

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def handshakes(pki: Pki, centre: Credentials, device: Credentials, n: int) -> float:
    """Completed handshakes per second (both sides' work)."""
    centre_verifier = PkiVerifier(pki)
    device_verifier = AnchorVerifier([pki.root_certificate], pki.crls())
    t0 = time.perf_counter()
    for _ in range(n):
        client = Session.initiator(centre, centre_verifier)
        server = Session.responder(device, device_verifier)
        send = server.receive(client.start(NOW), NOW)[0]
        client.receive(send.message, NOW)  # type: ignore[union-attr]
    return n / (time.perf_counter() - t0)


def session_pair(pki: Pki, centre: Credentials, device: Credentials) -> tuple[Session, Session]:
    config = SessionConfig(rekey_interval=timedelta(hours=24))
    client = Session.initiator(centre, PkiVerifier(pki), config)
    server = Session.responder(device, AnchorVerifier([pki.root_certificate], pki.crls()), config)
    send = server.receive(client.start(NOW), NOW)[0]
    client.receive(send.message, NOW)  # type: ignore[union-attr]
    return client, server


def measure(step: Callable[[], None], n: int) -> tuple[float, float, float, float]:
    """(messages/s over a batch; mean, median, p99 µs of single steps), after a warm-up."""
    for _ in range(max(1, n // 10)):
        step()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    rate = n / (time.perf_counter() - t0)
    samples = []
    for _ in range(min(n, 5000)):
        s0 = time.perf_counter_ns()
        step()
        samples.append((time.perf_counter_ns() - s0) / 1000)
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    return rate, statistics.fmean(samples), statistics.median(samples), p99


def main(n_handshakes: int, n_records: int) -> None:
    print(
        f"workload: {n_handshakes} handshakes; {n_records} records per case "
        "(seal + open, one process, one core)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki.create(Path(tmp) / "pki", passphrase=None, now=NOW)
        centre = Credentials.from_issued(pki.issue_e2e("control-centre", now=NOW))
        device = Credentials.from_issued(
            pki.issue_e2e("inv-7", xmpp_address="inv7@der.example", now=NOW)
        )
        rate = handshakes(pki, centre, device, n_handshakes)
        print(f"handshake (req+acc, 2 signatures, 2 path+CRL checks): {rate:8.1f} per second")
        client, server = session_pair(pki, centre, device)
        print(f"session AEAD: {client.aead}")
        for size in (200, 2048):
            payload = bytes(size)
            for confidential in (False, True):
                label = "encrypted " if confidential else "integrity "

                def step(payload: bytes = payload, confidential: bool = confidential) -> None:
                    server.open(client.seal(payload, NOW, confidential=confidential), NOW)

                rate, mean, median, p99 = measure(step, n_records)
                print(
                    f"record {label} {size:5d} B: {rate:7.0f} msg/s; seal+open µs "
                    f"mean {mean:5.1f}, median {median:5.1f}, p99 {p99:5.1f}"
                )
        kdc = GroupKeyServer()
        for algorithm in (GroupAlgorithm.HMAC_SHA256_128, GroupAlgorithm.AES_256_GCM):
            group = f"bench-{algorithm.value}"
            kdc.create_group(group, NOW, algorithm=algorithm, members=["a", "b"])
            a, b = GroupMember("a", group), GroupMember("b", group)
            for push in kdc.rollover(group, NOW):
                (a if push.member == "a" else b).install(push.message, NOW)
            payload = bytes(200)

            def group_step(
                a: GroupMember = a, b: GroupMember = b, payload: bytes = payload
            ) -> None:
                b.open(a.seal(payload, NOW), NOW)

            rate, mean, median, p99 = measure(group_step, n_records)
            print(
                f"group {algorithm.value:15s} 200 B: {rate:7.0f} msg/s; seal+open µs "
                f"mean {mean:5.1f}, median {median:5.1f}, p99 {p99:5.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handshakes", type=int, default=200)
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    main(args.handshakes, args.records)
