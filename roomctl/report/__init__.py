"""The session report: a chart and tables of one recorded session, as PDF, HTML or PNG.

``build_report`` (``roomctl.report.model``) turns a recorded session into a pure
``ReportModel``; ``roomctl.report.render.write_report`` lays it out (matplotlib, only
imported there). ``roomctl report`` on the command line does both.

No patient identifier appears in a report: the model never reads one.
"""

from __future__ import annotations

from roomctl.report.model import ReportModel, build_report

__all__ = ["ReportModel", "build_report"]
