"""Reports: report.json (the contract), report.md, manifest.json."""
