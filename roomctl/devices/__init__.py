"""Device layer: pure codecs per wire protocol, drivers, links and supervision.

Bytes stop at ``link``; each ``<protocol>/protocol.py`` is a pure codec (bytes in,
frames out); each ``<protocol>/driver.py`` maps frames to typed readings.
"""
