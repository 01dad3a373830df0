"""`llm-collector report`: answers "who spent the money?" offline, from the files a file exporter wrote.

inputs.py finds the files (directories, rotated backups) and streams their spans; aggregate.py folds them
into bounded state (per-group aggregates with a quantile sketch each, hourly buckets, the costliest traces);
render.py prints it as a table, CSV or JSON, html.py as one self-contained page with inline SVG charts;
command.py is the CLI glue. docs/operations.md ("Spend reports") is the user's guide.
"""
