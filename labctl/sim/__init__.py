"""The simulated probe station: device physics and instruments that speak real SCPI."""
