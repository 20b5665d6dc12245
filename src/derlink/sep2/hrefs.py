"""The head-end's URL layout, in one place. Clients never build these: they follow links.

EndDevices are addressed by SFDI, programs by their operator id, controls by mRID.
"""

from __future__ import annotations

DCAP = "/dcap"
TIME = "/tm"
EDEV = "/edev"
MUP = "/mup"
UPT = "/upt"
RSPS = "/rsps"
DERP = "/derp"


def edev(sfdi: int) -> str:
    return f"{EDEV}/{sfdi}"


def edev_part(sfdi: int, part: str) -> str:
    return f"{EDEV}/{sfdi}/{part}"


def fsa(sfdi: int, group: str | None = None) -> str:
    base = edev_part(sfdi, "fsa")
    return base if group is None else f"{base}/{group}"


def fsa_programs(sfdi: int, group: str) -> str:
    return f"{fsa(sfdi, group)}/derp"


def der(sfdi: int, part: str | None = None) -> str:
    base = edev_part(sfdi, "der/1")
    return base if part is None else f"{base}/{part}"


def subscription(sfdi: int, sub_id: int | None = None) -> str:
    base = edev_part(sfdi, "sub")
    return base if sub_id is None else f"{base}/{sub_id}"


def program(program_id: str, part: str | None = None) -> str:
    base = f"{DERP}/{program_id}"
    return base if part is None else f"{base}/{part}"


def control(program_id: str, mrid: str) -> str:
    return f"{program(program_id, 'derc')}/{mrid}"


def curve(program_id: str, curve_id: str) -> str:
    return f"{program(program_id, 'dc')}/{curve_id}"


def responses(program_id: str) -> str:
    return f"{RSPS}/{program_id}/rsp"


def response_set(program_id: str) -> str:
    return f"{RSPS}/{program_id}"


def mirror(mup_id: int) -> str:
    return f"{MUP}/{mup_id}"


def usage_point(mup_id: int, part: str | None = None) -> str:
    base = f"{UPT}/{mup_id}"
    return base if part is None else f"{base}/{part}"


# --- what is published to groups: tariffs, demand response, messaging, files -----------------

TP = "/tp"
DR = "/dr"
MSG = "/msg"
FILE = "/file"


def fsa_part(sfdi: int, group: str, part: str) -> str:
    """A list of an FSA: ``tp``, ``dr``, ``msg``, ``file`` (and ``derp``)."""
    return f"{fsa(sfdi, group)}/{part}"


def tariff(tariff_id: str, part: str | None = None) -> str:
    base = f"{TP}/{tariff_id}"
    return base if part is None else f"{base}/{part}"


def rate_component(tariff_id: str, component: str, part: str | None = None) -> str:
    base = f"{tariff(tariff_id, 'rc')}/{component}"
    return base if part is None else f"{base}/{part}"


def price_interval(tariff_id: str, component: str, mrid: str, part: str | None = None) -> str:
    base = f"{rate_component(tariff_id, component, 'tti')}/{mrid}"
    return base if part is None else f"{base}/{part}"


def dr_program(program_id: str, part: str | None = None) -> str:
    base = f"{DR}/{program_id}"
    return base if part is None else f"{base}/{part}"


def msg_program(program_id: str, part: str | None = None) -> str:
    base = f"{MSG}/{program_id}"
    return base if part is None else f"{base}/{part}"


def file(file_id: str, part: str | None = None) -> str:
    base = f"{FILE}/{file_id}"
    return base if part is None else f"{base}/{part}"


def file_status(sfdi: int) -> str:
    return edev_part(sfdi, "fs")


def event_responses(root: str, program_id: str) -> str:
    """Where Responses to the events of a publication are posted (``root`` is tp, dr, msg)."""
    return f"{RSPS}/{root}/{program_id}/rsp"
