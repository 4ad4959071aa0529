package model

// Environment is a stage a release passes through (Dev, Test, Production).
// Environments are ordered; the order is how the dashboard and the default
// lifecycle read them.
type Environment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	SortOrder   int    `json:"sortOrder"`
	// UseGuidedFailure turns guided failure on for every deployment here.
	UseGuidedFailure bool `json:"useGuidedFailure,omitempty" yaml:"useGuidedFailure,omitempty"`
}

// Validate checks the fields a user controls.
func (e *Environment) Validate() error {
	p := problems{subject: "environment"}
	checkName(&p, "name", e.Name)
	if e.SortOrder < 0 {
		p.add("sortOrder", "must not be negative")
	}
	return p.err()
}
