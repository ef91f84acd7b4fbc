"""`gepad report`: one self-contained HTML page about a user's prompt, plots as inline SVG."""

from .page import ReportData, render_report

__all__ = ["ReportData", "render_report"]
