"""Reports: report.json (the contract), report.md/html, the budget gate and baseline comparison."""
