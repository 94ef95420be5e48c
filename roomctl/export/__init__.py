"""Exports of a recorded session: CSV, HL7 v2 ORU^R01 (IHE PCD-01) files, and MLLP.

``export_session`` is the entry point ``roomctl report --out FILE.csv|FILE.hl7`` and
``--mllp HOST:PORT`` call. The modules:

- ``csv_export``: the CSV layout (one file, readings and events merged by time);
- ``hl7``: ORU^R01 messages, their batching, identification and invalid-value rules;
- ``codes``: the verified 11073 MDC codes and the OBX-4 containment;
- ``mllp``: the MLLP client that waits for each acknowledgement;
- ``exporter``: reading the record, writing owner-only files, sending.
"""

from __future__ import annotations

from roomctl.errors import ExportError
from roomctl.export.exporter import export_session

__all__ = ["ExportError", "export_session"]
