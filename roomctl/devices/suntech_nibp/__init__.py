"""SunTech Advantage / Advantage A+ OEM NIBP module (protocols.md §2.1).

``protocol`` is the pure codec (host commands, module responses, both streaming
decoders); ``driver`` maps responses to readings and runs the request/response
measurement session over a ``ByteLink``.
"""
