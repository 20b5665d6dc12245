"""Signed controls on the DER client: verify the operator's signature before a control applies.

IEEE 2030.5's DERControl has no signature field and the 2030.5/CSIP-AUS schemas allow no
extension elements in it (CSIP-AUS extends by redefining the schema; there is no ``xs:any``), so
a derlink element inside DERControl would make the document invalid for every other client. The
signature therefore travels as a detached document (:class:`~derlink.e2e.commands.SignedCommand`,
``application/vnd.derlink.signed-command``) at ``{DERControl href}/sc``: a non-derlink client
never asks for it, a relay (aggregator, gateway) passes it on unchanged like any resource, and
it is self-contained (content, signature, the signer's certificate path), so the device needs no
one's word but its own trust anchors.

With ``require_signed`` every new DERControl is checked once, by mRID, before the event rules
see it (:class:`SignedControls`): the signed form is fetched and verified
(:func:`derlink.e2e.commands.verify`: signer path and role against the device's trust anchors
and CRLs, signature, recipient, window), the DERControl must be what was signed (every field
compared after the same 2030.5 rendering the server uses, so quantised values match exactly),
and its counter is admitted into the device's counter cache, which is written to disk before
anything applies. A refused control is answered with a Response (Table 27): 254 "rejected,
event expired" when its validity window has passed, 253 "rejected, invalid event" for anything
else (bad or missing signature, untrusted signer, wrong recipient, replayed counter, a field that
differs). 252 means "a control parameter is not applicable" to this device (a capability
matter), which a forged command is not. The head-end audits each refusal it receives.

Not covered: the EventStatus (a cancellation is the server's word, and a relay could drop a
command anyway), and curve points (a curve-valued mode is matched by presence only).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

from derlink.domain import Control, ControlBase, ControlStatus, ResponseStatus
from derlink.e2e.commands import (
    DEFAULT_SKEW,
    MEDIA_TYPE,
    BadSignature,
    CommandContent,
    CommandError,
    CounterCache,
    Expired,
    SignedCommand,
    Trust,
    Verified,
    load_counters,
    save_counters,
    verify,
)
from derlink.errors import DerlinkError
from derlink.sep2.client.convert import EventMeta, Rejected
from derlink.sep2.client.errors import BadResource, ServerAnswer, TransportFailure
from derlink.sep2.client.http import Sep2Http
from derlink.sep2.client.walker import DeviceWalker, ProgramView
from derlink.sep2.mapping import CurveLinks, from_der_control_base, to_der_control_base
from derlink.sep2.xml import DERControl

log = logging.getLogger("derlink.sep2.client")
SUFFIX = "/sc"
CURVE_FIELDS = frozenset(
    {"volt_var_curve", "volt_watt_curve", "freq_watt_curve", "watt_pf_curve", "watt_var_curve"}
)


@dataclass(frozen=True, slots=True)
class CommandTrust:
    """What a device needs to verify signed controls: trust anchors and CRLs, where its counter
    cache lives, its groups when configured locally (None: as the server's FSAs say), the
    replay window of the pull model and the clock skew allowed at ``notBefore``."""

    trust: Trust
    state_dir: Path
    groups: frozenset[str] | None = None
    replay_window: int = 256
    skew: int = DEFAULT_SKEW
    files: TrustFiles | None = None

    def refreshed(self) -> CommandTrust:
        """This trust, with anchors and CRLs read again if their files changed since."""
        if self.files is None:
            return self
        fresh = self.files.changed()
        return self if fresh is None else dataclasses.replace(self, trust=fresh)


class TrustFiles:
    """Trust anchors and CRLs a device reads from files, read again when a file changes.

    A device has no CRL distribution over 2030.5: an agent of the operator drops fresh CRLs in
    place. Without a re-read, a long-running client would refuse every signed control once the
    CRLs it started with passed their nextUpdate (verification fails closed), and would go on
    trusting a signer revoked since. A file that no longer parses keeps the trust in force and
    is logged; the next change is tried again.
    """

    def __init__(self, ca: Path, crls: tuple[Path, ...]) -> None:
        self.ca = ca
        self.crls = crls
        self._seen = self._stamp()

    def _stamp(self) -> tuple[tuple[int, int] | None, ...]:
        stamps: list[tuple[int, int] | None] = []
        for path in (self.ca, *self.crls):
            try:
                st = path.stat()
            except OSError:
                stamps.append(None)
            else:
                stamps.append((st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def load(self) -> Trust:
        from derlink.pki import load_certificates, load_crl

        return Trust(tuple(load_certificates(self.ca)), tuple(load_crl(c) for c in self.crls))

    def changed(self) -> Trust | None:
        """A new Trust when a file changed since the last look, else None."""
        stamp = self._stamp()
        if stamp == self._seen:
            return None
        self._seen = stamp
        try:
            return self.load()
        except DerlinkError as err:
            log.warning("trust files changed but could not be read, keeping the old: %s", err)
            return None


def status_of(err: CommandError) -> ResponseStatus:
    """The Table 27 status a refusal is answered with."""
    if isinstance(err, Expired):
        return ResponseStatus.REJECTED_EXPIRED
    return ResponseStatus.REJECTED_INVALID


def quantised(base: ControlBase) -> ControlBase:
    """``base`` as it reads after the server's 2030.5 rendering (curve ids kept)."""
    return from_der_control_base(to_der_control_base(base, CurveLinks(lambda c: c)), lambda h: h)


def _without_curves(base: ControlBase) -> tuple[ControlBase, frozenset[str]]:
    present = frozenset(n for n in CURVE_FIELDS if getattr(base, n) is not None)
    return dataclasses.replace(base, **dict.fromkeys(CURVE_FIELDS)), present


def match(content: CommandContent, control: Control, primacy: int) -> None:
    """Raise :class:`BadSignature` unless the DERControl (as ``control``, in a program of
    ``primacy``) is what ``content`` signed."""
    signed = content.control()
    checks = {
        "mRID": (signed.mrid, control.mrid),
        "start": (signed.start, control.start),
        "duration": (signed.duration, control.duration),
        "creationTime": (signed.created, control.created),
        "randomizeStart": (signed.randomize_start, control.randomize_start),
        "randomizeDuration": (signed.randomize_duration, control.randomize_duration),
        "description": (signed.description[:32], control.description),
        "primacy": (content.primacy, primacy),
    }
    for name, (want, got) in checks.items():
        if want != got:
            raise BadSignature(f"{name} {got!r} differs from the signed {want!r}")
    want_base, want_curves = _without_curves(quantised(signed.base))
    got_base, got_curves = _without_curves(control.base)
    if want_base != got_base or want_curves != got_curves:
        raise BadSignature("the DERControlBase differs from the signed envelope")


def check_control(
    control: Control,
    primacy: int,
    document: bytes | None,
    *,
    lfdi: str,
    trust: CommandTrust,
    counters: CounterCache,
    now: int,
) -> Verified:
    """Verify one DERControl against its signed form and admit its counter (sans-IO).

    Raises a :class:`~derlink.e2e.commands.CommandError`; ``counters`` is unchanged then.
    """
    if document is None:
        raise BadSignature("the control is not signed")
    signed = SignedCommand.decode(document)
    verified = verify(
        signed, trust=trust.trust, now=now, lfdi=lfdi, groups=trust.groups, skew=trust.skew
    )
    match(verified.content, control, primacy)
    counters.admit_verified(verified, now, allow_repeat=True)
    return verified


@dataclass(frozen=True, slots=True)
class Verdict:
    refusal: Rejected | None


@dataclass(slots=True)
class _Candidate:
    control: Control
    primacy: int
    document: bytes | None
    counter: int = 0


@dataclass
class SignedControls:
    """One EndDevice's verification of signed controls (the I/O around :func:`check_control`)."""

    lfdi: str
    trust: CommandTrust
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    version: int = 0
    counters: CounterCache = field(init=False)

    def __post_init__(self) -> None:
        self.lfdi = self.lfdi.upper()
        self.counters = load_counters(self.path, self.trust.replay_window)

    @property
    def path(self) -> Path:
        return self.trust.state_dir / f"{self.lfdi}.counters.json"

    async def screen(
        self, walker: DeviceWalker, view: ProgramView, http: Sep2Http, now: int
    ) -> ProgramView:
        """``view`` with unverified controls taken out: refused ones become Rejected events,
        ones whose signed form could not be fetched yet wait (the view is then incomplete)."""
        self.trust = self.trust.refreshed()
        raw = self._raw(walker)
        fresh: list[_Candidate] = []
        pending = False
        for control in view.controls:
            if control.mrid in self.verdicts or control.mrid not in raw:
                continue
            xml, primacy = raw[control.mrid]
            if control.status is not ControlStatus.SCHEDULED and control.status is not (
                ControlStatus.ACTIVE
            ):
                continue  # cancelled or superseded on first sight: never applied
            try:
                document = await self._fetch(http, xml)
            except (TransportFailure, ServerAnswer, BadResource) as err:
                log.info("EndDevice %s: signed form of %s: %s", self.lfdi, control.mrid, err)
                pending = True
                continue
            fresh.append(_Candidate(control, primacy, document))
        if fresh:
            self._decide(fresh, view, now)
        return self._apply(view, pending)

    def _decide(self, fresh: list[_Candidate], view: ProgramView, now: int) -> None:
        for candidate in fresh:  # counters in increasing order: the order they were issued
            try:
                if candidate.document is not None:
                    candidate.counter = SignedCommand.decode(candidate.document).command().counter
            except CommandError:
                candidate.counter = 0
        admitted = False
        for candidate in sorted(fresh, key=lambda c: c.counter):
            mrid = candidate.control.mrid
            try:
                check_control(
                    candidate.control,
                    candidate.primacy,
                    candidate.document,
                    lfdi=self.lfdi,
                    trust=self.trust,
                    counters=self.counters,
                    now=now,
                )
            except CommandError as err:
                meta = view.meta.get(mrid) or EventMeta(bytes.fromhex(mrid), None, 0)
                status = status_of(err)
                log.warning("EndDevice %s refuses control %s: %s", self.lfdi, mrid, err)
                self.verdicts[mrid] = Verdict(Rejected(mrid, meta, status, f"{err.code}: {err}"))
            else:
                admitted = True
                self.verdicts[mrid] = Verdict(None)
        if admitted:
            save_counters(self.path, self.counters)  # durable before anything applies
        self.version += 1

    def _apply(self, view: ProgramView, pending: bool) -> ProgramView:
        controls: list[Control] = []
        rejected = list(view.rejected)
        for control in view.controls:
            verdict = self.verdicts.get(control.mrid)
            if verdict is None:
                if control.status in (ControlStatus.SCHEDULED, ControlStatus.ACTIVE):
                    continue  # not verified yet
                controls.append(control)
            elif verdict.refusal is None:
                controls.append(control)
            else:
                rejected.append(verdict.refusal)
        return dataclasses.replace(
            view,
            controls=tuple(controls),
            rejected=tuple(rejected),
            complete=view.complete and not pending,
        )

    @staticmethod
    def _raw(walker: DeviceWalker) -> dict[str, tuple[DERControl, int]]:
        found: dict[str, tuple[DERControl, int]] = {}
        for _, program in walker.programs():
            for xml in walker._controls_of(program):
                found.setdefault(xml.mRID.hex().upper(), (xml, program.primacy))
        return found

    async def _fetch(self, http: Sep2Http, xml: DERControl) -> bytes | None:
        if not xml.href:
            return None
        try:
            return await http.get_bytes(xml.href + SUFFIX, MEDIA_TYPE)
        except ServerAnswer as err:
            if err.status in (403, 404, 410):
                return None  # the server has no signed form: unsigned
            raise
