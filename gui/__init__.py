"""The probe-station GUI (Qt). For now: the bridge from run events to Qt signals."""
