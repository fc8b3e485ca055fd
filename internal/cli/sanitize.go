package cli

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// What the CLI prints comes from people it does not trust with the reader's terminal: a
// pipeline writes the files, a Job's log and a request's status message; anyone who can push to a
// store writes its commit subjects. A terminal acts on control characters (an escape sequence can
// move the cursor, rewrite lines above or set the window title) and on Unicode's bidirectional
// controls (text shown in another order than it is read), so each printed string passes through
// one of these functions first, which shows such characters escaped instead (as Go writes them in
// a string literal). -o json escapes them too (printJSON), -o yaml all but the bidirectional
// controls, which YAML counts as printable.

// cellText is a table cell: one line, every control character escaped, tabs and newlines too
// (they would break the columns and the rows).
func cellText(s string) string { return escapeControls(s, "") }

// blockText is text of several lines (a message, the end of a log): newlines and tabs stay.
func blockText(s string) string { return escapeControls(s, "\n\t") }

// contentText is a file's content: newlines and tabs stay, and so does a carriage return before a
// newline (a file with CRLF line ends); a lone carriage return would let the rest of a line cover
// what came before it, and is escaped.
func contentText(s string) string {
	if !needsEscape(s, "\n\t") {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if r == '\r' && strings.HasPrefix(s[i+1:], "\n") {
			b.WriteRune(r)
			continue
		}
		writeRune(&b, r, "\n\t", s[i:])
	}
	return b.String()
}

func escapeControls(s, keep string) string {
	if !needsEscape(s, keep) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		writeRune(&b, r, keep, s[i:])
	}
	return b.String()
}

func needsEscape(s, keep string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return true
			}
		}
		if unsafeRune(r) && !strings.ContainsRune(keep, r) {
			return true
		}
	}
	return false
}

// writeRune writes r, which starts rest, escaped when it is unsafe and not kept.
func writeRune(b *strings.Builder, r rune, keep string, rest string) {
	if r == utf8.RuneError {
		if _, size := utf8.DecodeRuneInString(rest); size == 1 {
			fmt.Fprintf(b, `\x%02x`, rest[0])
			return
		}
	}
	if !unsafeRune(r) || strings.ContainsRune(keep, r) {
		b.WriteRune(r)
		return
	}
	switch r {
	case '\n':
		b.WriteString(`\n`)
	case '\t':
		b.WriteString(`\t`)
	case '\r':
		b.WriteString(`\r`)
	default:
		if r < 0x80 {
			fmt.Fprintf(b, `\x%02x`, r)
		} else {
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
}

// unsafeRune is a character a terminal acts on instead of showing: C0 and C1 controls, DEL, and
// the bidirectional embeddings, overrides and isolates.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
