"""Tables as Markdown and as LaTeX (booktabs)."""

from __future__ import annotations

from html import escape

from bench.report.table_model import Table

# -- table rendering ----------------------------------------------------------------------

def md_text(text: object) -> str:
    """Text from records as Markdown shows it literally: Markdown viewers pass raw HTML
    through, so `<`, `>` and `&` become entities (as report.html escapes them), and a line
    break, which would end a table row or a heading, becomes a space."""
    return " ".join(escape(str(text), quote=False).split())


def _md_escape(text: str) -> str:
    return md_text(text).replace("|", "\\|")


def table_to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table with the title as a heading."""
    lines = [f"### {md_text(table.title)}", ""]
    if table.empty:
        return "\n".join([*lines, f"_{md_text(table.note or 'no data')}_", ""])
    align = table.align or ["l"] * len(table.header)
    lines.append("| " + " | ".join(_md_escape(h) for h in table.header) + " |")
    lines.append("|" + "|".join("---:" if a == "r" else ":---" for a in align) + "|")
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"_{md_text(table.note)}_"]
    return "\n".join([*lines, ""])


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "µ": r"$\mu$", "±": r"$\pm$", "×": r"$\times$", "↑": r"$\uparrow$",
    "↓": r"$\downarrow$", "∞": r"$\infty$", "·": r"$\cdot$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def table_to_latex(table: Table, label_prefix: str = "tab:") -> str:
    """A booktabs `table` environment (needs `\\usepackage{booktabs}`)."""
    caption = latex_escape(table.title)
    if table.empty:
        return f"% {caption}: {table.note or 'no data'}\n"
    align = "".join(table.align or ["l"] * len(table.header))
    lines = [
        r"\begin{table}[htbp]", r"\centering", r"\small",
        rf"\caption{{{caption}}}", rf"\label{{{label_prefix}{table.key}}}",
        rf"\begin{{tabular}}{{{align}}}", r"\toprule",
        " & ".join(latex_escape(h) for h in table.header) + r" \\", r"\midrule",
    ]
    for i, row in enumerate(table.rows):
        if i in table.group_starts and i > 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(latex_escape(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.note:
        lines.append(rf"\par\smallskip{{\footnotesize {latex_escape(table.note)}}}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)
