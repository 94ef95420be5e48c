"""Nonin Serial Data Format #2 (OEM III module, Xpod 3012LP): codec and driver.

``protocol`` is the pure codec (bytes to frames to 25-frame packets, and the encoders
the simulator uses); ``driver`` maps complete packets to SpO2 and pulse-rate readings.
See protocols.md §1.2 for the wire format and its sources.
"""
