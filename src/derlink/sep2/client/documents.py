"""What a DER writes about itself: DERCapability, DERSettings, DERStatus, DERAvailability and
DeviceInformation, built from a :class:`~derlink.sep2.client.device.Nameplate` and a
:class:`~derlink.sep2.client.device.DerState` (sans-IO, time passed in).

DERControlType bits (IEEE 2030.5-2018 Annex B): 0 charge, 1 discharge, 2 opModConnect,
3 opModEnergize, 4 opModFixedPFAbsorbW, 5 opModFixedPFInjectW, 6 opModFixedVar, 7 opModFixedW,
8 opModFreqDroop, 9 opModFreqWatt, 10-19 ride-through, 20 opModMaxLimW, 21 opModTargetVar,
22 opModTargetW, 23 opModVoltVar, 24 opModVoltWatt, 25 opModWattPF, 26 opModWattVar.
CSIP-AUS DOEControlType bits: 0 opModExpLimW, 1 opModImpLimW, 2 opModGenLimW, 3 opModLoadLimW.
"""

from __future__ import annotations

from derlink.sep2.client.device import DerState, Nameplate
from derlink.sep2.mapping import active_power, power_parts, reactive_power
from derlink.sep2.xml import (
    ApparentPower,
    ConnectStatusType,
    DERAvailability,
    DERCapability,
    DERSettings,
    DERStatus,
    DeviceInformation,
    OperationalModeStatusType,
    StateOfChargeStatusType,
    VoltageRMS,
    WattHour,
)

DER_MODE_BITS = {
    "connect": 2,
    "energize": 3,
    "fixed_pf_absorb": 4,
    "fixed_pf_inject": 5,
    "fixed_var_pct": 6,
    "fixed_w_pct": 7,
    "freq_watt_curve": 9,
    "max_limit_pct": 20,
    "target_var": 21,
    "target_w": 22,
    "volt_var_curve": 23,
    "volt_watt_curve": 24,
    "watt_pf_curve": 25,
    "watt_var_curve": 26,
}
DOE_MODE_BITS = {
    "export_limit_w": 0,
    "import_limit_w": 1,
    "generation_limit_w": 2,
    "load_limit_w": 3,
}
CHARGE_BITS = 0b11  # charge and discharge modes, for storage
CONNECTED, AVAILABLE, OPERATING = 0x01, 0x02, 0x04
MODE_OFF, MODE_OPERATIONAL = 1, 2
POWER_MAINS = 1
POWER_NONE = 0
GRAD_W = 100  # setGradW: 1 %/s of setMaxW, in hundredths


def _bits(modes: frozenset[str], table: dict[str, int]) -> int:
    return sum(1 << bit for name, bit in table.items() if name in modes)


def modes_supported(plate: Nameplate) -> bytes:
    bits = _bits(plate.modes, DER_MODE_BITS) | (CHARGE_BITS if plate.storage else 0)
    return bits.to_bytes(4, "big")


def doe_modes(plate: Nameplate) -> bytes:
    return _bits(plate.modes, DOE_MODE_BITS).to_bytes(1, "big")


def _va(value: float | None) -> ApparentPower | None:
    if value is None:
        return None
    amount, multiplier = power_parts(abs(value))
    return ApparentPower(multiplier=multiplier, value=amount)


def _wh(value: float | None) -> WattHour | None:
    if not value:
        return None
    amount, multiplier = power_parts(abs(value))
    return WattHour(multiplier=multiplier, value=amount)


def _volts(value: float) -> VoltageRMS:
    return VoltageRMS(multiplier=0, value=round(value))


def capability(plate: Nameplate) -> DERCapability:
    return DERCapability(
        modesSupported=modes_supported(plate),
        rtgMaxChargeRateW=active_power(plate.max_charge_w) if plate.max_charge_w else None,
        rtgMaxDischargeRateW=(
            active_power(plate.max_discharge_w) if plate.max_discharge_w else None
        ),
        rtgMaxVA=_va(plate.rated_va),
        rtgMaxVar=reactive_power(plate.rated_var) if plate.rated_var else None,
        rtgMaxW=active_power(plate.rated_w),
        rtgMaxWh=_wh(plate.storage_wh),
        rtgVNom=_volts(plate.v_nom),
        type=plate.der_type,
        doeModesSupported=doe_modes(plate),
    )


def settings(plate: Nameplate, now: int) -> DERSettings:
    return DERSettings(
        modesEnabled=modes_supported(plate),
        setGradW=GRAD_W,
        setMaxChargeRateW=active_power(plate.max_charge_w) if plate.max_charge_w else None,
        setMaxDischargeRateW=(
            active_power(plate.max_discharge_w) if plate.max_discharge_w else None
        ),
        setMaxVA=_va(plate.rated_va),
        setMaxVar=reactive_power(plate.rated_var) if plate.rated_var else None,
        setMaxW=active_power(plate.rated_w),
        setMaxWh=_wh(plate.storage_wh),
        setVNom=_volts(plate.v_nom),
        updatedTime=now,
        doeModesEnabled=doe_modes(plate),
    )


def status(plate: Nameplate, state: DerState, now: int) -> DERStatus:
    connect = (CONNECTED | AVAILABLE | OPERATING) if state.connected else AVAILABLE
    if not state.operating:
        connect &= ~OPERATING
    soc = None
    if state.soc_pct is not None:
        soc = StateOfChargeStatusType(dateTime=now, value=round(state.soc_pct * 100))
    mode = MODE_OPERATIONAL if state.connected and state.operating else MODE_OFF
    return DERStatus(
        genConnectStatus=ConnectStatusType(dateTime=now, value=connect.to_bytes(1, "big")),
        operationalModeStatus=OperationalModeStatusType(dateTime=now, value=mode),
        readingTime=now,
        stateOfChargeStatus=soc,
        storConnectStatus=(
            ConnectStatusType(dateTime=now, value=connect.to_bytes(1, "big"))
            if plate.storage
            else None
        ),
    )


def availability(state: DerState, now: int) -> DERAvailability:
    return DERAvailability(
        readingTime=now,
        statVarAvail=reactive_power(state.available_var),
        statWAvail=active_power(max(0.0, state.available_w)),
    )


def device_information(plate: Nameplate, lfdi: str) -> DeviceInformation:
    return DeviceInformation(
        lFDI=bytes.fromhex(lfdi),
        mfDate=plate.mf_date,
        mfHwVer=plate.hw_version[:32],
        mfID=plate.mf_id,
        mfModel=plate.model[:32],
        mfSerNum=plate.serial[:32],
        primaryPower=POWER_MAINS,
        secondaryPower=POWER_NONE,
        swActTime=plate.mf_date,
        swVer=plate.sw_version[:32],
    )
