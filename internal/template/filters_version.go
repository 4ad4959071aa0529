package template

import (
	"strconv"
	"strings"
)

// version holds the fields Octopus's version parser extracts from a version
// string such as v1.2.3.4-branch.1+meta.
type version struct {
	major, minor, patch, revision string
	prerelease                    string
	prereleasePrefix              string
	prereleaseCounter             string
	metadata                      string
}

func versionPart(get func(version) string) filterFunc {
	return func(in filterInput) (string, bool, error) {
		if !in.defined {
			return "", false, nil
		}
		v, ok := parseOctopusVersion(in.value)
		if !ok {
			return "", false, nil
		}
		return get(v), true, nil
	}
}

func isVersionWordChar(c byte) bool {
	return isDigit(c) || isASCIILetter(c) || c == '_'
}

func isVersionSep(c byte) bool { return c == '.' || c == '-' || c == '_' || c == '\\' }

func isAlnum(c byte) bool { return isDigit(c) || isASCIILetter(c) }

// parseOctopusVersion follows Octopus.Versioning's documented behaviour
// (and Octostache's VersionFixture): an optional v, up to four numeric
// fields separated by dots (whitespace tolerated around them), then an
// optional separator and a pre-release "prefix[sep counter]", then
// "+metadata". Missing numbers are 0; text with no leading number is all
// pre-release ("latest"). The prefix ends at the first separator, so
// "my-branch.1" has prefix "my" and counter "branch.1".
func parseOctopusVersion(s string) (version, bool) {
	v := version{major: "0", minor: "0", patch: "0", revision: "0"}
	if strings.TrimSpace(s) == "" {
		return v, false
	}
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(rune(s[i])) {
			i++
		}
	}
	// number reads digits ending at a word boundary.
	number := func(at int) (string, int, bool) {
		j := at
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == at || (j < len(s) && isVersionWordChar(s[j])) {
			return "", at, false
		}
		return s[at:j], j, true
	}
	skipSpace()
	start := i
	if i < len(s) && (s[i] == 'v' || s[i] == 'V') {
		i++
	}
	skipSpace()
	if major, next, ok := number(i); ok {
		fields := []*string{&v.major, &v.minor, &v.patch, &v.revision}
		*fields[0] = major
		i = next
		skipSpace()
		for f := 1; f < 4; f++ {
			if i >= len(s) || s[i] != '.' {
				break
			}
			j := i + 1
			for j < len(s) && isSpace(rune(s[j])) {
				j++
			}
			n, next, ok := number(j)
			if !ok {
				break
			}
			*fields[f] = n
			i = next
			skipSpace()
		}
	} else {
		i = start
	}
	if i < len(s) && isVersionSep(s[i]) {
		i++
	}
	preStart := i
	for i < len(s) && isAlnum(s[i]) {
		i++
	}
	v.prereleasePrefix = s[preStart:i]
	if i < len(s) && isVersionSep(s[i]) {
		i++
		cs := i
		for i < len(s) && (isAlnum(s[i]) || isVersionSep(s[i])) {
			i++
		}
		v.prereleaseCounter = s[cs:i]
	}
	v.prerelease = s[preStart:i]
	if i < len(s) && s[i] == '+' {
		i++
		ms := i
		for i < len(s) && (isAlnum(s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.' || s[i] == '\\' || s[i] == '+') {
			i++
		}
		v.metadata = s[ms:i]
	}
	skipSpace()
	if i != len(s) {
		return v, false
	}
	for _, f := range []string{v.major, v.minor, v.patch, v.revision} {
		if _, err := strconv.ParseInt(f, 10, 32); err != nil {
			return v, false
		}
	}
	for _, f := range []*string{&v.major, &v.minor, &v.patch, &v.revision} {
		n, _ := strconv.Atoi(*f)
		*f = strconv.Itoa(n)
	}
	return v, true
}
