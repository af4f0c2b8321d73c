"""The lab layer: one owner of a station for the CLI, the GUI and Python scripts."""

from labctl.lab.handles import RunHandle, RunResult
from labctl.lab.lab import Lab, LabClosed, StationBusy, open_lab, station_locks
from labctl.lab.queue_run import QueueHandle
from labctl.lab.reading import StationReading
from labctl.lab.remote import RemoteLab
from labctl.lab.runs import default_run_path, make_procedure, stored_run
from labctl.lab.signals import Interrupt, interrupt_on_signals, wait_aborting

__all__ = ["Interrupt", "Lab", "LabClosed", "QueueHandle", "RemoteLab", "RunHandle", "RunResult",
           "StationBusy", "StationReading", "default_run_path", "interrupt_on_signals",
           "make_procedure", "open_lab", "station_locks", "stored_run", "wait_aborting"]
