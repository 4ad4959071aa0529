package runner

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// replaceXML replaces what XPath-named variables select, editing the file
// in place so everything else stays byte for byte. As Calamari's
// XmlFormatVariableReplacer does:
//
//   - only names containing '/' or ':' are read as XPath;
//   - an attribute or a text() node gets the value as text (escaped);
//   - an element holding only a CDATA section keeps it, with the new text;
//   - an element holding elements gets the value as an XML fragment (not
//     well-formed: skipped with a warning); any other element gets it as
//     text, so "<rules />" becomes "<rules>value</rules>".
//
// Names are matched as XPath does: an unprefixed name matches elements in
// no namespace, so in a document with a default namespace use *:name or a
// prefix the document declares.
func replaceXML(content []byte, values []structuredValue, out *output) ([]byte, []string, error) {
	doc, err := parseXMLDocument(content)
	if err != nil {
		return nil, nil, &parseError{msg: err.Error()}
	}
	for _, w := range doc.warnings {
		out.Warnf("%s", w)
	}
	var edits []edit
	for _, v := range values {
		if !strings.ContainsAny(v.name, "/:") {
			continue
		}
		expr, err := parseXPath(v.name)
		if err != nil {
			if strings.HasPrefix(v.name, "/") {
				out.Warnf("variable %q looks like XPath but is not in the subset pulpo supports (%v); it was not applied", v.name, err)
			}
			continue
		}
		selected, err := expr.evaluate(doc)
		if err != nil {
			continue // an undeclared prefix: not meant for this file
		}
		for _, sel := range selected {
			e, err := xmlEdit(sel, v.value)
			if err != nil {
				out.Warnf("could not set the value at %q: %v; it was not replaced", v.name, err)
				continue
			}
			e.name = v.name
			edits = append(edits, e)
		}
	}
	updated, applied := applyEdits(content, edits)
	return updated, dedupe(applied), nil
}

func dedupe(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func xmlEdit(sel xmlSelection, value string) (edit, error) {
	if a := sel.attr; a != nil {
		return edit{start: a.valueStart, end: a.valueEnd, text: escapeXMLAttr(value, a.quote)}, nil
	}
	n := sel.node
	switch n.kind {
	case xmlText:
		return edit{start: n.start, end: n.end, text: escapeXMLText(value)}, nil
	case xmlCDATA:
		return edit{start: n.start, end: n.end, text: escapeCDATA(value)}, nil
	case xmlDocument:
		return edit{}, errors.New("the document itself cannot be replaced")
	}
	if len(n.children) == 1 && n.others == 0 && n.children[0].kind == xmlCDATA {
		c := n.children[0]
		return edit{start: c.start, end: c.end, text: escapeCDATA(value)}, nil
	}
	if n.hasElements() {
		if err := wellFormedFragment(value); err != nil {
			return edit{}, fmt.Errorf("it holds elements, so the value must be an XML fragment, and it is not (%v)", err)
		}
		return edit{start: n.contentStart, end: n.contentEnd, text: value}, nil
	}
	if n.selfClosing {
		return edit{start: n.contentStart, end: n.contentEnd, text: ">" + escapeXMLText(value) + "</" + n.rawName + ">"}, nil
	}
	return edit{start: n.contentStart, end: n.contentEnd, text: escapeXMLText(value)}, nil
}

func escapeXMLText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func escapeXMLAttr(s string, quote byte) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")
	s = r.Replace(s)
	if quote == '\'' {
		return strings.ReplaceAll(s, "'", "&apos;")
	}
	return strings.ReplaceAll(s, `"`, "&quot;")
}

// escapeCDATA splits "]]>" across two sections so the text cannot end the
// section early.
func escapeCDATA(s string) string { return strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") }

func wellFormedFragment(s string) error {
	d := xml.NewDecoder(strings.NewReader("<fragment>" + s + "</fragment>"))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type xmlKind int

const (
	xmlDocument xmlKind = iota
	xmlElement
	xmlText
	xmlCDATA
)

// xmlNode is a node of a small DOM that remembers where each part is in
// the source. Whitespace-only text is left out, as XmlDocument does by
// default, so text() and positions count what Octopus counts.
type xmlNode struct {
	kind     xmlKind
	parent   *xmlNode
	children []*xmlNode
	others   int // comments and processing instructions among the children

	// elements
	rawName      string
	prefix       string
	local        string
	namespace    string
	declared     map[string]string // prefix ("" for the default) → URI
	attrs        []*xmlAttr
	selfClosing  bool
	contentStart int // content between the tags; for <a/>, the "/>" (and spaces before it)
	contentEnd   int

	// text and CDATA: the text's span (for CDATA, inside the markers)
	text       string
	start, end int
}

type xmlAttr struct {
	owner                *xmlNode
	prefix, local        string
	namespace            string
	value                string
	valueStart, valueEnd int
	quote                byte
}

func (n *xmlNode) hasElements() bool {
	for _, c := range n.children {
		if c.kind == xmlElement {
			return true
		}
	}
	return false
}

// stringValue is XPath's string-value: all text below the node.
func (n *xmlNode) stringValue() string {
	if n.kind == xmlText || n.kind == xmlCDATA {
		return n.text
	}
	var b strings.Builder
	for _, c := range n.children {
		b.WriteString(c.stringValue())
	}
	return b.String()
}

// xmlDoc is a parsed document and the namespace prefixes XPath may use:
// every prefix declared anywhere, the first declaration winning (as
// Calamari, which warns about the others).
type xmlDoc struct {
	root     *xmlNode
	prefixes map[string]string
	warnings []string
}

const xmlNamespaceURI = "http://www.w3.org/XML/1998/namespace"

func parseXMLDocument(src []byte) (*xmlDoc, error) {
	d := xml.NewDecoder(bytes.NewReader(src))
	d.Strict = true
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "us-ascii") || strings.EqualFold(label, "ascii") {
			return input, nil
		}
		return nil, fmt.Errorf("encoding %q is not supported (UTF-8 only)", label)
	}
	doc := &xmlDoc{root: &xmlNode{kind: xmlDocument}, prefixes: map[string]string{"xml": xmlNamespaceURI}}
	cur := doc.root
	sawRoot := false
	for {
		before := int(d.InputOffset())
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		after := int(d.InputOffset())
		switch t := tok.(type) {
		case xml.StartElement:
			if cur == doc.root {
				if sawRoot {
					return nil, fmt.Errorf("more than one root element (<%s>)", qname(t.Name))
				}
				sawRoot = true
			}
			el, err := doc.element(cur, t, src, before, after)
			if err != nil {
				return nil, err
			}
			cur.children = append(cur.children, el)
			cur = el
		case xml.EndElement:
			if cur == doc.root || qname(t.Name) != cur.rawName {
				return nil, fmt.Errorf("unexpected end tag </%s> at byte %d", qname(t.Name), before)
			}
			if !cur.selfClosing {
				cur.contentEnd = before
			}
			cur = cur.parent
		case xml.CharData:
			if cur == doc.root {
				continue
			}
			if bytes.HasPrefix(src[before:after], []byte("<![CDATA[")) {
				cur.children = append(cur.children, &xmlNode{kind: xmlCDATA, parent: cur, text: string(t), start: before + len("<![CDATA["), end: after - len("]]>")})
			} else if len(bytes.TrimSpace(t)) > 0 {
				cur.children = append(cur.children, &xmlNode{kind: xmlText, parent: cur, text: string(t), start: before, end: after})
			}
		case xml.Comment, xml.ProcInst:
			cur.others++
		}
	}
	if cur != doc.root {
		return nil, fmt.Errorf("element <%s> is not closed", cur.rawName)
	}
	if !sawRoot {
		return nil, errors.New("no root element")
	}
	return doc, nil
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func (doc *xmlDoc) element(parent *xmlNode, t xml.StartElement, src []byte, start, end int) (*xmlNode, error) {
	el := &xmlNode{kind: xmlElement, parent: parent, rawName: qname(t.Name), prefix: t.Name.Space, local: t.Name.Local, declared: map[string]string{}}
	raw := parseStartTag(src, start, end)
	if len(raw) != len(t.Attr) {
		return nil, fmt.Errorf("could not read the attributes of <%s> at byte %d", el.rawName, start)
	}
	for i, a := range t.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			el.declared[""] = a.Value
		case a.Name.Space == "xmlns":
			el.declared[a.Name.Local] = a.Value
			if known, ok := doc.prefixes[a.Name.Local]; ok && known != a.Value {
				doc.warnings = append(doc.warnings, fmt.Sprintf("the namespace %q could not be mapped to the prefix %q, as %q already is; XPath using this prefix may not select what you expect", a.Value, a.Name.Local, known))
			} else {
				doc.prefixes[a.Name.Local] = a.Value
			}
		default:
			el.attrs = append(el.attrs, &xmlAttr{owner: el, prefix: a.Name.Space, local: a.Name.Local, value: a.Value,
				valueStart: raw[i].valueStart, valueEnd: raw[i].valueEnd, quote: raw[i].quote})
		}
	}
	var ok bool
	if el.namespace, ok = el.lookup(el.prefix); !ok {
		return nil, fmt.Errorf("element <%s> uses an undeclared namespace prefix", el.rawName)
	}
	for _, a := range el.attrs {
		if a.prefix != "" {
			if a.namespace, ok = el.lookup(a.prefix); !ok {
				return nil, fmt.Errorf("attribute %s:%s of <%s> uses an undeclared namespace prefix", a.prefix, a.local, el.rawName)
			}
		}
	}
	if bytes.HasSuffix(src[start:end], []byte("/>")) {
		el.selfClosing = true
		el.contentEnd = end
		el.contentStart = end - 2
		for el.contentStart > start && isXMLSpace(src[el.contentStart-1]) {
			el.contentStart--
		}
	} else {
		el.contentStart = end
	}
	return el, nil
}

// lookup resolves a prefix ("" for the default namespace) in scope.
func (n *xmlNode) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return xmlNamespaceURI, true
	}
	for at := n; at != nil && at.kind == xmlElement; at = at.parent {
		if uri, ok := at.declared[prefix]; ok {
			return uri, true
		}
	}
	return "", prefix == ""
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

type rawAttr struct {
	valueStart, valueEnd int
	quote                byte
}

// parseStartTag finds where each attribute's value is inside a start tag
// the decoder has already checked, in source order (as the decoder lists
// them).
func parseStartTag(src []byte, start, end int) []rawAttr {
	var attrs []rawAttr
	i := start + 1
	for i < end && !isXMLSpace(src[i]) && src[i] != '/' && src[i] != '>' {
		i++
	}
	for i < end {
		for i < end && isXMLSpace(src[i]) {
			i++
		}
		if i >= end || src[i] == '/' || src[i] == '>' {
			break
		}
		for i < end && src[i] != '=' {
			i++
		}
		i++ // =
		for i < end && isXMLSpace(src[i]) {
			i++
		}
		if i >= end {
			break
		}
		quote := src[i]
		i++
		valueStart := i
		for i < end && src[i] != quote {
			i++
		}
		attrs = append(attrs, rawAttr{valueStart: valueStart, valueEnd: i, quote: quote})
		i++
	}
	return attrs
}
