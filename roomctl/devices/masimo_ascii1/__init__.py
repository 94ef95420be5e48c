"""Masimo Rad-8 / Rad-87 / Radical-7 / Radical-5 "ASCII 1" serial text output.

``protocol`` is the pure line codec (bytes in, ``MasimoLine`` out, and back);
``driver`` maps lines to typed readings and holds the registry entry.
"""
