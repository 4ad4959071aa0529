package vars

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// MaskText replaces a sensitive value wherever it appears.
const MaskText = "********"

// minMaskLength: shorter values would mask ordinary words and digits all
// over the log (Octopus masks values of four characters or more).
const minMaskLength = 4

// Masker hides sensitive values in text: each value as it is, each of its
// lines, and its base64 and URL-encoded forms, since scripts print secrets
// in those shapes too. It is safe for concurrent use.
type Masker struct {
	mu       sync.RWMutex
	values   map[string]bool
	replacer *strings.Replacer
}

// NewMasker returns a masker hiding the given values.
func NewMasker(values ...string) *Masker {
	m := &Masker{values: map[string]bool{}}
	m.Add(values...)
	return m
}

// Add hides more values.
func (m *Masker) Add(values ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	add := func(s string) {
		if len(s) >= minMaskLength && !m.values[s] {
			m.values[s] = true
			changed = true
		}
	}
	for _, v := range values {
		for _, form := range forms(v) {
			add(form)
		}
		for _, line := range strings.Split(v, "\n") {
			add(strings.TrimRight(line, "\r"))
		}
	}
	if !changed {
		return
	}
	all := make([]string, 0, len(m.values))
	for v := range m.values {
		all = append(all, v)
	}
	// Longest first, so a value is hidden whole rather than in part.
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, MaskText)
	}
	m.replacer = strings.NewReplacer(pairs...)
}

func forms(v string) []string {
	b := []byte(v)
	return []string{
		v,
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		url.QueryEscape(v),
		url.PathEscape(v),
	}
}

// Mask returns text with every sensitive value hidden.
func (m *Masker) Mask(text string) string {
	if m == nil {
		return text
	}
	m.mu.RLock()
	r := m.replacer
	m.mu.RUnlock()
	if r == nil {
		return text
	}
	return r.Replace(text)
}

// Empty reports whether the masker hides nothing.
func (m *Masker) Empty() bool {
	if m == nil {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.replacer == nil
}
