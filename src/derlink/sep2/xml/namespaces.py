"""XML namespaces and the media type of IEEE 2030.5 documents.

IEEE 2030.5-2018 Annex B: every sep.xsd type lives in one namespace, ``urn:ieee:std:2030.5:ns``.
Clients built against IEEE 2030.5-2013 (SEP 2.0) send ``http://ieee.org/2030.5``; the element
names and their order did not change for the types derlink reads, so both are accepted.
CSIP-AUS puts its extension elements in a namespace of its own, whose URI changed between v1.2
and v1.3 of the profile.
"""

from __future__ import annotations

from typing import Final

MEDIA_TYPE: Final = "application/sep+xml"
NS: Final = "urn:ieee:std:2030.5:ns"
NS_2013: Final = "http://ieee.org/2030.5"
CSIPAUS_V12: Final = "https://csipaus.org/ns"
CSIPAUS_V13: Final = "https://csipaus.org/ns/v1.3"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"

SEP_NAMESPACES: Final = (NS, NS_2013)
CSIPAUS_NAMESPACES: Final = (CSIPAUS_V12, CSIPAUS_V13)
