package template

// navigateJSON follows property names and array indexes. A missing last
// property or an index past the end gives "" (as Octostache does); a
// missing step in the middle gives nothing. A string that itself holds JSON
// is entered.
func navigateJSON(v *jsonValue, steps []cstep) (string, bool) {
	cur := v
	for i := 0; i < len(steps); i++ {
		last := i == len(steps)-1
		st := steps[i]
		switch cur.kind {
		case jsonObject:
			var next *jsonValue
			for _, m := range cur.members {
				if m.key == st.text {
					next = m.value // later duplicates win, as in Json.NET
				}
			}
			if next == nil {
				return "", last
			}
			cur = next
		case jsonArray:
			idx, ok := parseDotnetInt(st.text)
			if !ok || idx < 0 {
				return "", false
			}
			if idx >= len(cur.elems) {
				return "", last
			}
			cur = cur.elems[idx]
		case jsonString:
			inner := parseJSONContainer(cur.str)
			if inner == nil {
				return "", false
			}
			cur = inner
			i--
		default:
			return "", false
		}
	}
	return cur.text(), true
}
