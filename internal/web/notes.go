package web

import (
	"html"
	"html/template"
	"regexp"
	"strings"
)

// Release notes are markdown. renderNotes draws the part people use in
// notes (paragraphs, headings, bullet lists, bold, italics, code, http(s)
// links) and shows everything else as text: it escapes the whole text
// first and only then adds its own tags, so nothing in the notes can become
// markup or a script link.
var (
	notesBold   = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	notesItalic = regexp.MustCompile(`(^|[\s(])[*_]([^*_\s][^*_]*)[*_]`)
	notesCode   = regexp.MustCompile("`([^`]+)`")
	// Escaped text: a link's address has no quotes or spaces left to
	// break out of the attribute, and only http(s) is taken.
	notesLink = regexp.MustCompile(`\[([^\]]+)\]\((https?://[^\s)]+)\)`)
)

func renderNotes(md string) template.HTML {
	var b strings.Builder
	var para []string
	inList := false
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + strings.Join(para, "<br>") + "</p>")
			para = nil
		}
	}
	endList := func() {
		if inList {
			b.WriteString("</ul>")
			inList = false
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			flush()
			endList()
		case strings.HasPrefix(trimmed, "- ") || strings.HasPrefix(trimmed, "* ") || strings.HasPrefix(trimmed, "+ "):
			flush()
			if !inList {
				b.WriteString("<ul>")
				inList = true
			}
			b.WriteString("<li>" + notesInline(strings.TrimSpace(trimmed[2:])) + "</li>")
		case strings.HasPrefix(trimmed, "#"):
			flush()
			endList()
			b.WriteString(`<p class="notes-heading"><strong>` + notesInline(strings.TrimSpace(strings.TrimLeft(trimmed, "#"))) + "</strong></p>")
		default:
			endList()
			para = append(para, notesInline(trimmed))
		}
	}
	flush()
	endList()
	return template.HTML(b.String())
}

// notesInline escapes a line, then draws its emphasis, code and links.
func notesInline(s string) string {
	s = html.EscapeString(s)
	s = notesCode.ReplaceAllString(s, "<code>$1</code>")
	s = notesLink.ReplaceAllString(s, `<a href="$2" rel="noopener noreferrer">$1</a>`)
	s = notesBold.ReplaceAllString(s, "<strong>$1</strong>")
	s = notesItalic.ReplaceAllString(s, "$1<em>$2</em>")
	return s
}
