"""Measurements: accuracy, calibration, parity, host latency, predicted latency, memory, the gate."""
