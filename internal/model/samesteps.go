package model

import "encoding/json"

// SameSteps reports whether two lists of steps are the same, such as a
// runbook's draft and its published snapshot as the API gives them (both
// redacted alike), so a difference is one a person made. A nil list and an
// empty one are the same.
func SameSteps(a, b []Step) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
