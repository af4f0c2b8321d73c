"""The real analyzer drivers, unchanged, over SimAdapter to the simulated analyzers and device."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.keysight_xseries import KeysightXSeries
from drivers.roles import Spectrum
from drivers.rs_fsv import RohdeSchwarzFSV
from labctl.clock import VirtualClock
from labctl.config import FaultConfig, SpectrumLimits
from labctl.errors import InstrumentError
from labctl.sim.adapter import SimAdapter
from labctl.sim.analyzer import SimKeysightXSeries, SimRohdeSchwarzFSV
from labctl.sim.device import DeviceModel

ANALYZERS = [
    pytest.param(SimKeysightXSeries, KeysightXSeries, id="keysight_xseries"),
    pytest.param(SimRohdeSchwarzFSV, RohdeSchwarzFSV, id="rs_fsv"),
]
POINTS = 10001
RBW = 300e3


def make_station(sim_cls, driver_cls, faults=None):
    """Device with a field and 1.6 mA through the oscillators; analyzer wired to it."""
    clock = VirtualClock()
    device = DeviceModel(clock, seed=1)
    device.magnet.set_supply_current(10.0)
    clock.advance(10.0)  # let the coil current settle
    device.stripe.source_current(1.6e-3, 5.0)
    sim = sim_cls("spectrum", device, clock, faults=faults, seed=0)
    driver = driver_cls(SimAdapter(sim), name="spectrum")
    return clock, device, sim, driver


def span_around_lines(device) -> tuple[float, float]:
    lines = device.truth()["line_frequencies"]
    return round(min(lines) - 100e6, -3), round(max(lines) + 100e6, -3)


@pytest.mark.parametrize("sim_cls, driver_cls", ANALYZERS)
def test_spectrum_shows_the_simulated_lines(sim_cls, driver_cls):
    clock, device, sim, driver = make_station(sim_cls, driver_cls)
    assert driver.id == sim.idn
    spectrum = Spectrum(driver, SpectrumLimits())
    f_start, f_stop = span_around_lines(device)
    freq = spectrum.configure(f_start, f_stop, POINTS, RBW, averages=20)
    np.testing.assert_allclose(freq, np.linspace(f_start, f_stop, POINTS), rtol=0, atol=1e-6)

    t0 = clock.now()
    freq2, trace = spectrum.acquire()
    assert freq2 is freq
    assert trace.dtype == np.float32 and trace.shape == (POINTS,)
    # the virtual clock advanced by the sweep time of all 20 averages
    expected = device.sweep_time(f_start, f_stop, POINTS, RBW, RBW / 10, 20)
    assert clock.now() - t0 == pytest.approx(expected)
    assert driver.read_sweep_time() == pytest.approx(expected / 20)
    driver.raise_errors()  # the simulator accepted every command

    lines = np.array(device.truth()["line_frequencies"])
    tolerance = max(2e6, freq[1] - freq[0])
    peak = freq[np.argmax(trace)]
    assert np.min(np.abs(lines - peak)) <= tolerance
    try:
        from labctl.analysis.lorentz import fit_spectrum
    except ImportError:
        return
    peaks = fit_spectrum(freq, trace, RBW, merge_distance=5e6)
    assert peaks, "no line found in the simulated spectrum"
    strongest = max(peaks, key=lambda p: p.snr_db)
    assert np.min(np.abs(lines - strongest.frequency)) <= tolerance


@pytest.mark.parametrize("sim_cls, driver_cls", ANALYZERS)
def test_timeout_in_the_trace_read_names_instrument_and_command(sim_cls, driver_cls):
    # count the commands a configure takes, then fault the trace query of the first acquire
    _, device, sim, driver = make_station(sim_cls, driver_cls)
    f_start, f_stop = span_around_lines(device)
    Spectrum(driver, SpectrumLimits()).configure(f_start, f_stop, POINTS, RBW)
    trace_command = sim.commands_received + 2  # after the single sweep
    fault = FaultConfig(instrument="spectrum", kind="timeout", at_command=trace_command)

    _, device, sim, driver = make_station(sim_cls, driver_cls, faults=[fault])
    spectrum = Spectrum(driver, SpectrumLimits())
    spectrum.configure(f_start, f_stop, POINTS, RBW)
    with pytest.raises(InstrumentError) as err:
        spectrum.acquire()
    assert err.value.instrument == "spectrum"
    assert "TRAC:DATA? TRACE1" in err.value.command
    assert "timeout" in str(err.value)
    # nothing stale is left behind: the next acquisition works
    _, trace = spectrum.acquire()
    assert trace.shape == (POINTS,)


@pytest.mark.parametrize("sim_cls, driver_cls", ANALYZERS)
def test_simulator_rejects_out_of_range_values_like_the_instrument(sim_cls, driver_cls):
    _, _, sim, driver = make_station(sim_cls, driver_cls)
    driver.write(":SENS:FREQ:STOP 12e9")
    driver.write(":SENS:FREQ:STOP 100e9")  # beyond the model's range: -222, not applied
    driver.write(":SENS:BAND:RES 0")
    assert driver.stop_frequency == 12e9
    assert list(sim.errors) == [(-222, "Data out of range")] * 2
    with pytest.raises(InstrumentError, match="-222"):
        driver.raise_errors()
    driver.write(":SENS:FREQ:CENT 10 GHz;:SENS:FREQ:SPAN 200 MHz")  # units as on the panel
    assert (driver.start_frequency, driver.stop_frequency) == (9.9e9, 10.1e9)
    driver.write(":SENS:DET:BOGUS AVER")
    assert sim.next_error().startswith("-113")


@pytest.mark.parametrize("sim_cls, driver_cls", ANALYZERS)
def test_reset_returns_to_continuous_ascii_and_single_sweep_mode_holds_the_trace(
        sim_cls, driver_cls):
    clock, device, sim, driver = make_station(sim_cls, driver_cls)
    driver.write("*RST")
    assert driver.continuous_sweep is True
    driver.configure_sweep(9e9, 11e9, 1001, 1e6, 1e5, 5)
    assert not driver.continuous_sweep
    driver.single_sweep()
    t = clock.now()
    first, again = driver.read_trace(), driver.read_trace()
    np.testing.assert_array_equal(first, again)  # no new sweep without single_sweep()
    assert clock.now() == t
    driver.single_sweep()
    assert not np.array_equal(driver.read_trace(), first)
