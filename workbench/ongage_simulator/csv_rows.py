"""The contacts of a simulated export as CSV rows: generated from the row's index and the export's
seed (so any range can be produced again without the rows before it), in the fields and date
format the request asked for.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta

DEFAULT_FIELDS = ("email", "first_name", "last_name", "ocx_contact_id", "ocx_created_date")


# One field of each kind of value this body writes: names with quotes, commas, newlines and
# non-ASCII, the three system fields (an id and two dates, one often empty), a custom field.
EVERY_KIND_OF_FIELD = (*DEFAULT_FIELDS, "ocx_unsubscribe_date", "address")


DEFAULT_DATE_FORMAT = "mm/dd/yyyy"


ROWS_PER_BLOCK = 1000  # the last 3 digits of a contact id are the row within its block


_MARKER = "\x01" * 9  # stands for the 9-digit block number; no real value contains \x01


_MARKER_BYTES = _MARKER.encode()


_FIRST_BLOCK = 100_000_000  # so contact ids are 12 digits: 100000000000 + row index


# Values chosen to exercise CSV parsing downstream: commas, quotes, quoted newlines, non-ASCII.
FIRST_NAMES = (
    "Anna", "Zoë", "Łukasz", "José", "François", "Mary-Ann", "Søren", "Ngozi", "李", "Oğuz",
)  # fmt: skip


LAST_NAMES = (
    "Smith", "Müller", "Smith, Jr.", 'Doe "DJ"', "O'Brien", "Nowak\nKowalska", "García",
    "Kowalczyk", "Nguyễn", "van der Berg",
)  # fmt: skip


OTHER_VALUES = (
    "Springfield", "Kraków", "12 Main St, Apt 4", 'The "Best" Shop', "line one\nline two", "",
    "Zürich", "plain",
)  # fmt: skip


DOMAINS = ("example.com", "example.org", "example.net")


def format_date(day: date, date_format: str) -> str:
    """Format `day` with an Ongage date format such as 'dd-mm-yy'."""
    pattern = date_format.replace("yyyy", "%Y").replace("yy", "%y")
    return day.strftime(pattern.replace("mm", "%m").replace("dd", "%d"))


def _render_row(values: Sequence[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue().encode()


def _row_values(fields: Sequence[str], row: int, seed: int, date_format: str) -> list[str]:
    """Template row `row` of a block; the contact id carries the block-number placeholder."""
    contact_id = f"{_MARKER}{row:03d}"
    first = FIRST_NAMES[(seed + row) % len(FIRST_NAMES)]
    last = LAST_NAMES[(seed // 7 + row) % len(LAST_NAMES)]
    created = date(2015, 1, 1) + timedelta(days=(seed + row * 37) % 3650)
    ascii_first = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()
    values = {
        "email": f"{ascii_first.lower() or 'user'}.{contact_id}@{DOMAINS[row % len(DOMAINS)]}",
        "first_name": first,
        "last_name": last,
        "ocx_contact_id": contact_id,
        "ocx_created_date": format_date(created, date_format),
        "ocx_unsubscribe_date": (
            format_date(created + timedelta(days=90), date_format) if row % 7 == 3 else ""
        ),
    }
    for field in fields:
        if field not in values:
            values[field] = _other_value(field, row, seed, created, date_format)
    return [values[field] for field in fields]


def _other_value(field: str, row: int, seed: int, created: date, date_format: str) -> str:
    """A value for any other list field (custom fields): a date if the name says so."""
    if "date" in field:
        return format_date(created + timedelta(days=row % 400), date_format)
    return OTHER_VALUES[(seed + row + len(field)) % len(OTHER_VALUES)]


class CsvSource:
    """The CSV text as chunks: chunk 0 is the header row, chunk k >= 1 is block k - 1."""

    def __init__(self, seed: int, fields: Sequence[str], date_format: str, target_bytes: int):
        self.header = _render_row(fields)
        rows = [
            _render_row(_row_values(fields, i, seed, date_format)) for i in range(ROWS_PER_BLOCK)
        ]
        template = b"".join(rows)
        # The template cut at its placeholders: a block is its number joined between them.
        self._pieces = template.split(_MARKER_BYTES)
        self._partial_pieces: dict[int, list[bytes]] = {}
        self._row_ends = [0, *itertools.accumulate(len(row) for row in rows)]
        self.block_size = len(template)
        self.rows = self._rows_for(max(0, target_bytes - len(self.header)))
        full_blocks, partial = divmod(self.rows, ROWS_PER_BLOCK)
        self.size = len(self.header) + full_blocks * self.block_size + self._row_ends[partial]
        self.chunk_count = 1 + -(-self.rows // ROWS_PER_BLOCK)

    def _rows_for(self, row_bytes: int) -> int:
        """The fewest rows whose bytes reach `row_bytes`."""
        full_blocks, rest = divmod(row_bytes, self.block_size)
        return full_blocks * ROWS_PER_BLOCK + bisect.bisect_left(self._row_ends, rest)

    def chunk_start(self, index: int) -> int:
        return 0 if index == 0 else len(self.header) + (index - 1) * self.block_size

    def chunk_at(self, position: int) -> int:
        """The index of the chunk holding CSV byte `position`."""
        if position < len(self.header):
            return 0
        return min(1 + (position - len(self.header)) // self.block_size, self.chunk_count - 1)

    def chunk(self, index: int) -> bytes:
        if index == 0:
            return self.header
        block = index - 1
        rows_in_block = min(ROWS_PER_BLOCK, self.rows - block * ROWS_PER_BLOCK)
        # One join is 2.5x faster than bytes.replace of the template's 2,000 placeholders.
        return (b"%09d" % (_FIRST_BLOCK + block)).join(self._pieces_for(rows_in_block))

    def _pieces_for(self, rows_in_block: int) -> list[bytes]:
        if rows_in_block == ROWS_PER_BLOCK:
            return self._pieces
        if rows_in_block not in self._partial_pieces:  # the last block only
            template = _MARKER_BYTES.join(self._pieces)[: self._row_ends[rows_in_block]]
            self._partial_pieces[rows_in_block] = template.split(_MARKER_BYTES)
        return self._partial_pieces[rows_in_block]
