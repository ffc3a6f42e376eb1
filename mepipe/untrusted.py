"""Text from a release's files (sheet cells, emotion files, file names) shown on a terminal.

Such text is data, never terminal control: a CK+ emotion file holding `\\x1b[31m` would
otherwise turn the user's terminal red (or worse, move the cursor and overwrite lines), a
right-to-left override would show a file name reversed, and a sheet cell such as `[/bold]`
would be read by rich as markup (and fail with a traceback). Every message that can carry
such text goes through `printable` before click prints it, or `markup_safe` (or a
`rich.text.Text`) before rich does.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape

# Control characters (C0, DEL, C1), format characters (bidirectional overrides, zero-width
# characters), line and paragraph separators, and lone surrogates (undecodable file names).
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escaped(char: str) -> str:
    code = ord(char)
    if char in "\n\r\t":
        return repr(char)[1:-1]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` with every control or invisible character written as a Python escape
    (`\\x1b`, `\\n`, `\\u202e`), so it shows as what it is; letters of every script
    (non-ASCII file names) are kept as they are."""
    return "".join(_escaped(c) if unicodedata.category(c) in _HIDDEN else c for c in str(text))


def markup_safe(text: object) -> str:
    """`printable(text)` with rich markup escaped, for strings that rich renders as markup."""
    return escape(printable(text))
