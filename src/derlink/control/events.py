"""IEEE 2030.5 event rules for DERControls, sans-IO: no clock, no randomness of its own, no I/O.

``now`` is always passed in; randomisation takes a ``random.Random``, a device seed, or offsets
already drawn. The head-end uses it to serve EventStatus and to predict what a device applies;
the DER client uses it to decide what to apply, when, and which Response to post.

Head-end::

    program_event_statuses(program, controls, now)   # a DERControlList, strict 2018 reading
    device_event_statuses(programs, controls, now)   # one device's view of its FSAs' programs
    active_control(programs, controls, now)          # envelope in force (events, then defaults)

Client::

    events = device_events(programs, controls, now, randomization=seed)
    active_control(programs, controls, now, randomization=seed).base       # what to apply
    next_transition_time(programs, controls, now, randomization=seed)      # when to wake up
    state, responses = advance(state, event, now)                          # what to post

Rules, and where they come from (IEEE 2030.5-2018 unless said otherwise; "§12.1.3" is the Event
rules and guidelines clause that CSIP v2.1 P30 and the EPRI reference client cite; "Annex B" is
the schema documentation of EventStatus, RandomizableEvent and DefaultDERControl):

- Window ``[start, start+duration)``, half-open: back-to-back events do not overlap. Overlap and
  expiry are judged on the specified window ("the Duration Randomization is not used").
- Randomisation: offsets within randomizeStart / randomizeDuration (-3600..3600 s), with the
  sign of the bound, drawn once per event per device (Annex B RandomizableEvent).
- Precedence: lower primacy wins; at equal primacy the larger creationTime is newer and wins
  (§12.1.3); equal creationTime decides nothing, and derlink then takes the smaller mRID.
- Supersession (status 4) only within one program, for a newer overlapping event with exactly
  the same set of control modes, marked at its earliest Effective Start Time (Annex B);
  differing modes are independent (§12.1.3). Some-but-not-all shared modes set
  potentiallySuperseded (Annex B).
- Cancellation (2, 3): from the cancellation time; with 3 the client cancels after a delay
  within max(|randomizeStart|, |randomizeDuration|) (Annex B).
- Expired on receipt (specified end < now): REJECTED_EXPIRED, 254 (§12.1.3, Table 27).
- Defaults: a mode no eligible event sets comes from the DefaultDERControl of the
  highest-priority program that sets it (Annex B; CSIP v2.1 §4.4.3).

Where the sources part ways, derlink reads the 2018 text and says so:

- potentiallySuperseded: 2018 scopes it to one function set instance (program); the per-device
  function also flags a control that a higher-priority program's control may override. 2023
  deprecates the flag (always true) and status 4; this module follows 2018.
- Across programs no event is marked Superseded; the lower-priority event resumes when the
  higher-priority one ends (as 2023 10.2.2.3 spells out). The EPRI client instead drops the
  overridden modes for good; CSIP v2.1 §7.10 "never resumed" is read as applying to status 4.
- The 2018 server has no Completed status: an event that ran out stays Active.
"""

from __future__ import annotations

from derlink.control.events_client import (
    TRANSITIONS,
    ClientInput,
    ClientState,
    EventRuleError,
    InvalidTransition,
    Transition,
    advance,
    inputs_due,
    is_expired,
    step,
)
from derlink.control.events_device import (
    DeviceEvent,
    FieldSource,
    InForce,
    active_control,
    device_events,
    next_transition_time,
)
from derlink.control.events_status import (
    EventStatus,
    device_event_statuses,
    outranks,
    program_event_statuses,
)
from derlink.control.events_window import (
    MODE_FIELDS,
    DeviceRandomness,
    EventWindow,
    Randomization,
    cancel_bound,
    control_modes,
    draw_offset,
    earliest_start,
    effective_window,
    randomize,
    specified_window,
)

__all__ = [
    "MODE_FIELDS",
    "TRANSITIONS",
    "ClientInput",
    "ClientState",
    "DeviceEvent",
    "DeviceRandomness",
    "EventRuleError",
    "EventStatus",
    "EventWindow",
    "FieldSource",
    "InForce",
    "InvalidTransition",
    "Randomization",
    "Transition",
    "active_control",
    "advance",
    "cancel_bound",
    "control_modes",
    "device_event_statuses",
    "device_events",
    "draw_offset",
    "earliest_start",
    "effective_window",
    "inputs_due",
    "is_expired",
    "next_transition_time",
    "outranks",
    "program_event_statuses",
    "randomize",
    "specified_window",
    "step",
]
