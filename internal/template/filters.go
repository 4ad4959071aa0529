package template

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// filterInput is what a filter receives: the value so far (defined is false
// when the variable is undefined or an earlier filter yielded nothing) and
// its arguments, already evaluated.
type filterInput struct {
	value   string
	defined bool
	args    []string
	r       *renderer
}

// filterFunc returns ok false when it cannot apply (Octostache then echoes
// the tag); err is for failures worth stopping for, like a bad regex.
type filterFunc func(in filterInput) (out string, ok bool, err error)

// lookupFilter finds a filter by name, ignoring case as Octostache does.
func lookupFilter(name string) filterFunc {
	switch strings.ToLower(name) {
	case "tolower":
		return noArgs(strings.ToLower)
	case "toupper":
		return noArgs(strings.ToUpper)
	case "tobase64":
		return toBase64
	case "frombase64":
		return fromBase64
	case "htmlescape":
		return noArgs(htmlEscape)
	case "xmlescape":
		return noArgs(xmlEscape)
	case "jsonescape":
		return noArgs(jsonEscape)
	case "yamlsinglequoteescape":
		return noArgs(yamlSingleQuoteEscape)
	case "yamldoublequoteescape":
		return noArgs(yamlDoubleQuoteEscape)
	case "propertieskeyescape":
		return noArgs(propertiesKeyEscape)
	case "propertiesvalueescape":
		return noArgs(propertiesValueEscape)
	case "uriescape":
		return noArgs(uriEscape)
	case "uridataescape":
		return noArgs(uriDataEscape)
	case "nowdate":
		return nowDate(false)
	case "nowdateutc":
		return nowDate(true)
	case "adddays":
		return addTime(24)
	case "addhours":
		return addTime(1)
	case "format":
		return formatFilter
	case "match":
		return matchFilter
	case "replace":
		return replaceFilter
	case "startswith":
		return compareFilter(strings.HasPrefix)
	case "endswith":
		return compareFilter(strings.HasSuffix)
	case "contains":
		return compareFilter(strings.Contains)
	case "substring":
		return substring
	case "truncate":
		return truncate
	case "trim":
		return trim
	case "indent":
		return indent
	case "uripart":
		return uriPart
	case "versionmajor":
		return versionPart(func(v version) string { return v.major })
	case "versionminor":
		return versionPart(func(v version) string { return v.minor })
	case "versionpatch":
		return versionPart(func(v version) string { return v.patch })
	case "versionrevision":
		return versionPart(func(v version) string { return v.revision })
	case "versionprerelease":
		return versionPart(func(v version) string { return v.prerelease })
	case "versionprereleaseprefix":
		return versionPart(func(v version) string { return v.prereleasePrefix })
	case "versionprereleasecounter":
		return versionPart(func(v version) string { return v.prereleaseCounter })
	case "versionmetadata":
		return versionPart(func(v version) string { return v.metadata })
	case "append":
		return appendFilter(false)
	case "prepend":
		return appendFilter(true)
	case "md5", "sha1", "sha256", "sha384", "sha512":
		return hashFilter(strings.ToLower(name))
	}
	return nil
}

// isUnsupportedFilter names Octostache filters pulpo does not implement:
// Markdown needs a full CommonMark renderer (Markdig), and null makes the
// whole evaluation null, which has no meaning here.
func isUnsupportedFilter(name string) bool {
	switch strings.ToLower(name) {
	case "markdown", "markdowntohtml", "null":
		return true
	}
	return false
}

// noArgs adapts a string function taking no arguments; with arguments, or
// without input, it yields nothing, as in Octostache.
func noArgs(f func(string) string) filterFunc {
	return func(in filterInput) (string, bool, error) {
		if !in.defined || len(in.args) > 0 {
			return "", false, nil
		}
		return f(in.value), true, nil
	}
}

func dotnetLowerBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// compareFilter is StartsWith, EndsWith and Contains: ordinal, case
// sensitive, exactly one argument, "true" or "false".
func compareFilter(f func(s, arg string) bool) filterFunc {
	return func(in filterInput) (string, bool, error) {
		if !in.defined || len(in.args) != 1 {
			return "", false, nil
		}
		return dotnetLowerBool(f(in.value, in.args[0])), true, nil
	}
}

// compileRegexp compiles a pattern once per render. Go's RE2 syntax lacks
// some .NET constructs (lookaround, backreferences); those are reported.
func (r *renderer) compileRegexp(pattern string) (*regexp.Regexp, error) {
	if re, ok := r.regexps[pattern]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q is not supported: %v", pattern, err)
	}
	if r.regexps == nil {
		r.regexps = make(map[string]*regexp.Regexp)
	}
	r.regexps[pattern] = re
	return re, nil
}

func matchFilter(in filterInput) (string, bool, error) {
	if !in.defined || len(in.args) != 1 {
		return "", false, nil
	}
	re, err := in.r.compileRegexp(in.args[0])
	if err != nil {
		return "", false, err
	}
	return dotnetLowerBool(re.MatchString(in.value)), true, nil
}

// replaceFilter is Regex.Replace(value, pattern, replacement) with .NET's
// replacement syntax ($1, ${name}, $$, $&, $`, $', $+, $_).
func replaceFilter(in filterInput) (string, bool, error) {
	if !in.defined || len(in.args) == 0 {
		return "", false, nil
	}
	re, err := in.r.compileRegexp(in.args[0])
	if err != nil {
		return "", false, err
	}
	repl := ""
	if len(in.args) > 1 {
		repl = in.args[1]
	}
	src := in.value
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(src, -1) {
		b.WriteString(src[last:m[0]])
		expandDotnetReplacement(&b, re, src, m, repl)
		last = m[1]
	}
	b.WriteString(src[last:])
	return b.String(), true, nil
}

func expandDotnetReplacement(b *strings.Builder, re *regexp.Regexp, src string, m []int, repl string) {
	group := func(n int) string {
		if n < 0 || 2*n+1 >= len(m) || m[2*n] < 0 {
			return ""
		}
		return src[m[2*n]:m[2*n+1]]
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '$' || i+1 >= len(repl) {
			b.WriteByte(c)
			continue
		}
		next := repl[i+1]
		switch {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '&':
			b.WriteString(group(0))
			i++
		case next == '`':
			b.WriteString(src[:m[0]])
			i++
		case next == '\'':
			b.WriteString(src[m[1]:])
			i++
		case next == '_':
			b.WriteString(src)
			i++
		case next == '+':
			n := re.NumSubexp()
			b.WriteString(group(n))
			i++
		case isDigit(next):
			j := i + 1
			for j < len(repl) && isDigit(repl[j]) {
				j++
			}
			n, ok := parseDotnetInt(repl[i+1 : j])
			if ok && n <= re.NumSubexp() {
				b.WriteString(group(n))
				i = j - 1
			} else {
				b.WriteByte('$')
			}
		case next == '{':
			end := strings.IndexByte(repl[i+2:], '}')
			if end < 0 {
				b.WriteByte('$')
				continue
			}
			name := repl[i+2 : i+2+end]
			n := -1
			if v, ok := parseDotnetInt(name); ok && isAllDigits(name) {
				n = v
			} else if name != "" {
				n = re.SubexpIndex(name)
			}
			if n < 0 || n > re.NumSubexp() {
				b.WriteByte('$')
				continue
			}
			b.WriteString(group(n))
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// substring takes "length" or "start length", in characters; a start past
// the end yields nothing, a length past the end is cut short.
func substring(in filterInput) (string, bool, error) {
	if !in.defined || len(in.args) == 0 || len(in.args) > 2 {
		return "", false, nil
	}
	nums := make([]int, len(in.args))
	for i, a := range in.args {
		n, ok := parseDotnetInt(a)
		if !ok || n < 0 {
			return "", false, nil
		}
		nums[i] = n
	}
	start, length := 0, nums[0]
	if len(nums) == 2 {
		start, length = nums[0], nums[1]
	}
	runes := []rune(in.value)
	if start > len(runes) {
		return "", false, nil
	}
	if start+length > len(runes) {
		length = len(runes) - start
	}
	return string(runes[start : start+length]), true, nil
}

// truncate keeps the first N characters and adds a suffix ("..." unless
// given) when it cut anything.
func truncate(in filterInput) (string, bool, error) {
	if !in.defined || len(in.args) == 0 {
		return "", false, nil
	}
	n, ok := parseDotnetInt(in.args[0])
	if !ok || n < 0 {
		return "", false, nil
	}
	suffix := "..."
	if len(in.args) > 1 {
		suffix = in.args[1]
	}
	if utf8.RuneCountInString(in.value) <= n {
		return in.value, true, nil
	}
	return string([]rune(in.value)[:n]) + suffix, true, nil
}

func trim(in filterInput) (string, bool, error) {
	if !in.defined {
		return "", false, nil
	}
	if len(in.args) == 0 {
		return strings.TrimFunc(in.value, isSpace), true, nil
	}
	switch strings.ToLower(in.args[0]) {
	case "start":
		return strings.TrimLeftFunc(in.value, isSpace), true, nil
	case "end":
		return strings.TrimRightFunc(in.value, isSpace), true, nil
	}
	return "", false, nil
}

// indent prefixes the first line and every following line: no argument is
// four spaces, "N" is N spaces, "I/S" and "/S" set the first and following
// sizes (up to 255), other text is used as is; two arguments give the two
// prefixes.
func indent(in filterInput) (string, bool, error) {
	if !in.defined {
		return "", false, nil
	}
	if in.value == "" {
		return "", true, nil
	}
	var first, rest string
	switch len(in.args) {
	case 0:
		first, rest = "    ", "    "
	case 1:
		first, rest = indentSizes(in.args[0])
	case 2:
		first, rest = in.args[0], in.args[1]
	default:
		return "", false, nil
	}
	return first + strings.ReplaceAll(in.value, "\n", "\n"+rest), true, nil
}

func indentSizes(arg string) (string, string) {
	size := func(s string) (int, bool) {
		if len(s) == 0 || len(s) > 3 || !isAllDigits(s) {
			return 0, false
		}
		n, _ := parseDotnetInt(s)
		return n, n <= 255
	}
	if a, b, slash := strings.Cut(arg, "/"); slash && !strings.Contains(b, "/") {
		sb, okB := size(b)
		if a == "" && okB {
			return "", strings.Repeat(" ", sb)
		}
		if sa, okA := size(a); okA && okB {
			return strings.Repeat(" ", sa), strings.Repeat(" ", sb)
		}
		return arg, arg
	}
	if n, ok := size(arg); ok {
		return strings.Repeat(" ", n), strings.Repeat(" ", n)
	}
	return arg, arg
}

// appendFilter is Append and Prepend: they need at least one argument and
// work without input.
func appendFilter(prepend bool) filterFunc {
	return func(in filterInput) (string, bool, error) {
		if len(in.args) == 0 {
			return "", false, nil
		}
		extra := strings.Join(in.args, "")
		if prepend {
			return extra + in.value, true, nil
		}
		return in.value + extra, true, nil
	}
}
