"""What a run says: report.json/report.md (markdown), report.html and regressions between runs."""
