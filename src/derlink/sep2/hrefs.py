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
