"""Reports: records → DataFrame (`collect`) → tables and figures → Markdown, LaTeX, HTML.

Modules, in the order data flows through them: `collect` (records to a DataFrame),
`table` (the table model and cell formatting), `tables` (the standard tables), `figures`,
`text` (Markdown and LaTeX), `html`, `write` (`write_report`, everything at once), and
`console` (the summary printed after one run). Nothing here reads run directories except
`collect`.
"""
