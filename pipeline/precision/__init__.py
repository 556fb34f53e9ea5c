"""Reduced precision: the quantizers and their registry, calibration, the accuracy guard, CPU flags and tuning."""
