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
# a statistic with its value ("P<.001", "t(106)=−5.05", "partial η² = .061", "adjusted R² = −.264"),
# kept on one line in the HTML/PDF (APA's values without a leading zero would otherwise break after ".")
STAT_EXPRESSION = re.compile(r"(?<![\w−-])(?:Wilks Λ|partial η²|adjusted R²|P|p|t|F|n|B|z|β|OR|R²|η²|Λ|α)"
                             r"(?:\([\d, ]+\))? ?(?:=|&lt;|&gt;) ?[−-]?[\d.,]*\d"
                             r"|95% CI (?:\[[−\d., ]+\]|[−-]?[\d.]+ to [−-]?[\d.]+)")
# a SHA-256 digest, set in a fixed-width font so that the text wraps the same whatever its digits
DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


LONG_WORD = 30  # characters: a word this long (a URL typed as a reason) may break anywhere (report.css)


def _long(cell) -> list[str]:
    """``["long"]`` for a cell holding a word longer than :data:`LONG_WORD`, else ``[]``: only
    such a cell may break inside a word, so that a file name, a column name or a date never does
    (a column that may break anywhere is squeezed to a letter's width by the table's layout)."""
    return ["long"] if any(len(word) > LONG_WORD for word in str(cell).split()) else []


def _classes(names: list[str]) -> Markup:
    return Markup(' class="{}"').format(" ".join(names)) if names else Markup("")


def _belongs_to(row, above) -> bool:
    """Whether ``row`` continues the block of the row ``above``, so that a page must not break
    between them: it is indented (a part or a reason under a row), continues a group (no label of
    its own: the timepoint groups of the conduct tables), or ``above`` is a group label."""
    return row is not None and (bool(row.indent) or not str(row.cells[0]).strip() or above.group)


class HtmlMarkup:
    """Markup for the HTML document; returns ``Markup`` (already escaped) strings."""

    name = "html"
    # an ISO date, month or timestamp ("2018-03-01", "2017-12"): in a <span class="date"> that the
    # screen stylesheet keeps on one line (a browser would break it at its hyphens); the text is unchanged
    DATE = re.compile(r"(?<![\w.:/-])\d{4}-\d{2}"
                      r"(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?(?![\w-])")

    def dates(self, text) -> Markup:
        """``text`` escaped, each of its dates in a ``<span class="date">``."""
        return Markup(self.DATE.sub(r'<span class="date">\g<0></span>', str(escape(text))))

    def stats(self, text: str) -> Markup:
        """Running text with its statistical symbols in italics, each statistic and date unbroken."""
        unbroken = STAT_EXPRESSION.sub(r'<span class="stat">\g<0></span>', str(escape(text)))
        marked = DIGEST.sub(r'<span class="digest">\g<0></span>', STAT_SYMBOL.sub(r"<em>\1</em>", unbroken))
        return self.dates(Markup(marked))

    def heading(self, level: int, text: str, anchor: str) -> Markup:
        return Markup('<h{0} id="{1}">{2}</h{0}>').format(level, anchor, self.dates(text))

    def paragraph(self, text: str) -> Markup:
        return Markup("<p>{}</p>").format(self.stats(text))

    def labelled(self, label: str, text: str) -> Markup:
        """A paragraph that starts with a bold label, as in a structured abstract."""
        return Markup("<p><strong>{}:</strong> {}</p>").format(label, self.stats(text))

    def items(self, entries) -> Markup:
        return Markup("<ul>{}</ul>").format(
            Markup("").join(Markup("<li>{}</li>").format(self.dates(entry)) for entry in entries))

    def table(self, table: Table, number: int) -> Markup:
        """The table in a box that scrolls sideways on a narrow screen (not the page): a labelled
        region that the keyboard can focus (to scroll it); an empty header cell is a ``<td>``."""
        head = Markup("")
        if table.header_groups:
            head += Markup("<tr>{}</tr>").format(Markup("").join(
                Markup('<th scope="colgroup" colspan="{}" class="group">{}</th>').format(span, self.dates(label))
                if str(label).strip() else Markup('<td colspan="{}"></td>').format(span)
                for label, span in table.header_groups))
        head += Markup("<tr>{}</tr>").format(Markup("").join(
            Markup('<{0} scope="col"{1}>{2}</{0}>' if str(cell).strip() else "<{0}{1}>{2}</{0}>").format(
                "th" if str(cell).strip() else "td", self._align(i, table.text_columns), self.dates(cell))
            for i, cell in enumerate(table.header)))
        following = (*table.rows[1:], None)
        body = Markup("").join(self._row(row, len(table.header), table.text_columns, _belongs_to(after, row))
                               for row, after in zip(table.rows, following))
        label = f"Table {number}. " if number else ""
        return Markup(
            '<div class="table-scroll" role="region" aria-label="{region}" tabindex="0">'
            '<table id="table-{name}"><caption>{label}{caption}</caption>'
            "<thead>{head}</thead><tbody>{body}</tbody></table></div>"
            '<p class="footnote">{footnote}</p>').format(
                region=f"Table {number}" if number else table.caption, name=table.name, label=label,
                caption=self.dates(table.caption), head=head, body=body, footnote=self.stats(table.footnote))

    @staticmethod
    def _align(column: int, text_columns: int) -> Markup:
        return Markup(' class="text"') if column < text_columns else Markup("")

    def _row(self, row, width: int, text_columns: int, keep_with_next: bool = False) -> Markup:
        if not str(row.cells[0]).strip():  # a row under the header of the row above: no header of its own
            first = Markup("<td></td>")
        else:
            kind = ["group"] if row.group else [f"indent-{int(row.indent)}"] if row.indent > 1 else \
                ["indent"] if row.indent else []
            first = Markup('<th scope="{}"{}>{}</th>').format(
                "rowgroup" if row.group else "row", _classes(kind + _long(row.cells[0])), self.dates(row.cells[0]))
        cells = list(row.cells[1:]) + [""] * (width - len(row.cells))
        keep = _classes(["keep-next"] if keep_with_next else [])
        return Markup("<tr{}>{}{}</tr>").format(keep, first, Markup("").join(
            Markup("<td{}>{}</td>").format(_classes(["text" if i < text_columns else "num", *_long(cell)]),
                                           self.dates(cell))
            for i, cell in enumerate(cells, start=1)))

    def figure(self, figure, number: int) -> Markup:
        """The figure, named by its text alternative (``aria-label``, also the PDF's /Alt of its PNG,
        see ``report._raster_figures``) with its caption exposed; the drawing itself is hidden from
        assistive technology (its text is the label's).  The figure scrolls sideways on a narrow
        screen (the drawing keeps a legible size) and so can take the keyboard's focus."""
        svg = re.sub(r"^<svg\b", '<svg aria-hidden="true" focusable="false"', figure.svg.lstrip(), count=1)
        return Markup(
            '<figure id="figure-{name}" aria-label="{alt}" tabindex="0">{svg}'
            "<figcaption>Figure {number}. {caption}</figcaption></figure>").format(
                name=figure.name, alt=figure.alt, svg=Markup(svg), number=number,
                caption=self.stats(figure.caption))


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")
# In the running text of the unescaped text: a statistical symbol (group 1, as STAT_SYMBOL) or a
# "Table N" / "Figure N" (groups 2 and 3), which becomes a Quarto cross-reference
_MARKDOWN_RUNNING = re.compile(rf"{STAT_SYMBOL.pattern}|\b(Table|Figure) (\d+)\b")
_CROSSREF_KEY = {"Table": "tbl", "Figure": "fig"}


def _crossref_id(kind: str, name: str) -> str:
    """The Quarto cross-reference id of a table or figure ("tbl-conduct-accrual"): Quarto
    reserves the prefix and advises against underscores (LaTeX)."""
    return f"{_CROSSREF_KEY[kind]}-{name.replace('_', '-')}"


class MarkdownMarkup:
    """Pandoc/Quarto markdown; figures are referenced from ``figures/``.

    Tables and figures carry Quarto cross-reference ids (``{#tbl-…}``, ``{#fig-…}``) and no
    number of their own: Quarto numbers them in order of appearance, which is the order of the
    HTML's numbers (``report.TABLE_ORDER``/``FIGURE_ORDER``).  A markup made by :meth:`numbered`
    also writes each "Table N"/"Figure N" of the running text as a cross-reference (``@tbl-…``).
    A figure with a PNG is referenced without extension: the front matter's
    ``default-image-extension`` picks the SVG for HTML and the PNG for PDF (no ``rsvg-convert``).
    """

    name = "markdown"

    def __init__(self, references: dict[str, dict[int, str]] | None = None):
        # {"Table": {number: "tbl-…"}, "Figure": {number: "fig-…"}}: the HTML's numbers → ids
        self.references = references or {}

    def numbered(self, tables: dict, figures: dict, numbers: dict) -> MarkdownMarkup:
        """This markup, writing "Table N"/"Figure N" of the running text as cross-references to the
        tables and figures of the template context (``numbers``: their HTML numbers by role)."""
        references = {"Table": {numbers[role]: _crossref_id("Table", table.name)
                                for role, table in tables.items() if numbers.get(role)},
                      "Figure": {numbers[role]: _crossref_id("Figure", figure.name)
                                 for role, figure in figures.items() if figure and numbers.get(role)}}
        return MarkdownMarkup(references)

    @staticmethod
    def escape(text) -> str:
        return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))

    def stats(self, text: str) -> str:
        """Running text with its statistical symbols in italics (found before escaping, so that
        "P<.001" is found as well as "P=.93") and its known "Table N"/"Figure N" as cross-references."""
        text, out, start = str(text), [], 0
        for match in _MARKDOWN_RUNNING.finditer(text):
            if match.group(1):
                replacement = f"*{match.group(1)}*"
            else:
                replacement = self.references.get(match.group(2), {}).get(int(match.group(3)))
                if replacement is None:
                    continue
                replacement = "@" + replacement
            out += [self.escape(text[start:match.start()]), replacement]
            start = match.end()
        return "".join(out) + self.escape(text[start:])

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
            first = f"**{first}**" if row.group else "\u2003" * int(row.indent) + first
            lines.append("| " + " | ".join([first] + [self.escape(c) for c in cells[1:]]) + " |")
        label = f" {{#{_crossref_id('Table', table.name)}}}" if number else ""
        caption = f": {self.escape(table.caption)}{label}"
        return "\n" + "\n".join(lines) + "\n\n" + caption + "\n\n" + self.escape(table.footnote) + "\n"

    def figure(self, figure, number: int) -> str:
        alt = figure.alt.replace('"', "'")
        # no extension when there is a PNG beside the SVG: default-image-extension chooses (svg for
        # HTML, png for PDF); a figure without one (the CONSORT diagram) is the SVG in every format
        path = f"figures/{figure.name}" + ("" if figure.png is not None else ".svg")
        label = f"#{_crossref_id('Figure', figure.name)} " if number else ""
        return f'\n![{self.escape(figure.caption)}]({path}){{{label}fig-alt="{alt}"}}\n'
