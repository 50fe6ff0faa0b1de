"""Two markups for one article body: HTML (report.html / PDF) and Quarto markdown (report.qmd).

The body template (``report_templates/body.j2``) writes every heading, paragraph, table and
figure through a markup object ``m``; rendering it once with :class:`HtmlMarkup` and once
with :class:`MarkdownMarkup` gives the same content in both documents.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from alliance_report.render.tables import Table

# Statistical symbols set in italics in running text: P, t, F, n, B, z before (, = or <
STAT_SYMBOL = re.compile(r"(?<![\w−-])(P|p|t|F|n|B|z)(?= ?(?:[(=<>]|&lt;|&gt;))")
# a statistic with its value ("P<.001", "t(106)=−5.05"), kept on one line in the HTML/PDF
STAT_EXPRESSION = re.compile(r"(?<![\w−-])(?:P|p|t|F|n|B|z)(?:\([\d, ]+\))? ?(?:=|&lt;|&gt;) ?[−-]?[\d.]*\d")
# a SHA-256 digest, set in a fixed-width font so that the text wraps the same whatever its digits
DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


class HtmlMarkup:
    """Markup for the HTML document; returns ``Markup`` (already escaped) strings."""

    name = "html"

    def em(self, text: str) -> Markup:
        return Markup("<em>{}</em>").format(text)

    def stats(self, text: str) -> Markup:
        """Running text with its statistical symbols in italics, each statistic unbroken."""
        unbroken = STAT_EXPRESSION.sub(r'<span class="stat">\g<0></span>', str(escape(text)))
        return Markup(DIGEST.sub(r'<span class="digest">\g<0></span>', STAT_SYMBOL.sub(r"<em>\1</em>", unbroken)))

    def strong(self, text: str) -> Markup:
        return Markup("<strong>{}</strong>").format(text)

    def heading(self, level: int, text: str, anchor: str) -> Markup:
        return Markup('<h{0} id="{1}">{2}</h{0}>').format(level, anchor, text)

    def paragraph(self, text: str) -> Markup:
        return Markup("<p>{}</p>").format(self.stats(text))

    def labelled(self, label: str, text: str) -> Markup:
        """A paragraph that starts with a bold label, as in a structured abstract."""
        return Markup("<p><strong>{}:</strong> {}</p>").format(label, self.stats(text))

    def items(self, entries) -> Markup:
        return Markup("<ul>{}</ul>").format(
            Markup("").join(Markup("<li>{}</li>").format(entry) for entry in entries))

    def table(self, table: Table, number: int) -> Markup:
        head = Markup("")
        if table.header_groups:
            head += Markup("<tr>{}</tr>").format(Markup("").join(
                Markup('<th scope="colgroup" colspan="{}"{}>{}</th>').format(
                    span, Markup(' class="group"') if label else Markup(""), label)
                for label, span in table.header_groups))
        head += Markup("<tr>{}</tr>").format(Markup("").join(
            Markup('<th scope="col"{}>{}</th>').format(self._align(i, table.text_columns), cell)
            for i, cell in enumerate(table.header)))
        body = Markup("").join(self._row(row, len(table.header), table.text_columns) for row in table.rows)
        return Markup(
            '<table id="table-{name}"><caption>Table {number}. {caption}</caption>'
            "<thead>{head}</thead><tbody>{body}</tbody></table>"
            '<p class="footnote">{footnote}</p>').format(
                name=table.name, number=number, caption=table.caption, head=head, body=body,
                footnote=table.footnote)

    @staticmethod
    def _align(column: int, text_columns: int) -> Markup:
        return Markup(' class="text"') if column < text_columns else Markup("")

    def _row(self, row, width: int, text_columns: int) -> Markup:
        if row.group:
            first = Markup('<th scope="rowgroup" class="group">{}</th>').format(row.cells[0])
        else:
            first = Markup('<th scope="row"{}>{}</th>').format(
                Markup(' class="indent"') if row.indent else Markup(""), row.cells[0])
        cells = list(row.cells[1:]) + [""] * (width - len(row.cells))
        return Markup("<tr>{}{}</tr>").format(first, Markup("").join(
            Markup('<td class="{}">{}</td>').format("text" if i < text_columns else "num", cell)
            for i, cell in enumerate(cells, start=1)))

    def figure(self, figure, number: int) -> Markup:
        return Markup(
            '<figure id="figure-{name}" role="img" aria-label="{alt}">{svg}'
            "<figcaption>Figure {number}. {caption}</figcaption></figure>").format(
                name=figure.name, alt=figure.alt, svg=Markup(figure.svg), number=number,
                caption=figure.caption)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


class MarkdownMarkup:
    """Pandoc/Quarto markdown; figures are referenced from ``figures/``."""

    name = "markdown"

    @staticmethod
    def escape(text) -> str:
        return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))

    def em(self, text: str) -> str:
        return f"*{self.escape(text)}*"

    def stats(self, text: str) -> str:
        return STAT_SYMBOL.sub(r"*\1*", self.escape(text))

    def strong(self, text: str) -> str:
        return f"**{self.escape(text)}**"

    def heading(self, level: int, text: str, anchor: str) -> str:
        return f"\n{'#' * level} {self.escape(text)} {{#{anchor}}}\n"

    def paragraph(self, text: str) -> str:
        return "\n" + self.stats(text) + "\n"

    def labelled(self, label: str, text: str) -> str:
        return f"\n**{self.escape(label)}:** {self.stats(text)}\n"

    def items(self, entries) -> str:
        return "\n" + "".join(f"- {entry}\n" for entry in entries)

    def table(self, table: Table, number: int) -> str:
        header = table.csv_header()
        lines = ["| " + " | ".join(self.escape(cell) for cell in header) + " |",
                 "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
        for row in table.rows:
            cells = list(row.cells) + [""] * (len(header) - len(row.cells))
            first = self.escape(cells[0])
            first = f"**{first}**" if row.group else (f"\u2003{first}" if row.indent else first)
            lines.append("| " + " | ".join([first] + [self.escape(c) for c in cells[1:]]) + " |")
        caption = f": Table {number}. {self.escape(table.caption)} {{#tbl-{table.name.replace('_', '-')}}}"
        return "\n" + "\n".join(lines) + "\n\n" + caption + "\n\n" + self.escape(table.footnote) + "\n"

    def figure(self, figure, number: int) -> str:
        alt = figure.alt.replace('"', "'")
        return (f"\n![Figure {number}. {self.escape(figure.caption)}](figures/{figure.name}.svg)"
                f'{{#fig-{figure.name.replace("_", "-")} fig-alt="{alt}"}}\n')
