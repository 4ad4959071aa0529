package model

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength bounds every user-given name; long enough for any real name,
// short enough to show in a table cell.
const MaxNameLength = 200

// checkName validates a display name: required, trimmed, printable, bounded.
func checkName(p *problems, field, name string) {
	switch {
	case name == "":
		p.add(field, "is required")
	case strings.TrimSpace(name) != name:
		p.add(field, "must not start or end with spaces")
	case utf8.RuneCountInString(name) > MaxNameLength:
		p.add(field, "must be at most %d characters", MaxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		p.add(field, "must not contain control characters")
	}
}

// NameKey is the form under which names are compared: names are unique and
// looked up case-insensitively, as Octopus users expect.
func NameKey(name string) string { return strings.ToLower(name) }

// SameName reports whether two names refer to the same thing.
func SameName(a, b string) bool { return strings.EqualFold(a, b) }
