package model

// DefaultProjectGroupName names the group every server starts with and
// projects join when none is given.
const DefaultProjectGroupName = "Default Project Group"

// ProjectGroup organises projects on the dashboard (and, later, scopes permissions).
type ProjectGroup struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Validate checks the fields a user controls.
func (g *ProjectGroup) Validate() error {
	p := problems{subject: "project group"}
	checkName(&p, "name", g.Name)
	return p.err()
}

// Project is something that gets deployed: it owns a deployment process and
// variables, and follows a lifecycle.
type Project struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	ProjectGroupID string `json:"projectGroupId"`
	LifecycleID    string `json:"lifecycleId"`
	// LibrarySetIDs are the library variable sets the project includes;
	// new releases snapshot their variables with the project's own.
	LibrarySetIDs []string `json:"librarySetIds,omitempty"`
	// ReleaseVersionTemplate numbers releases created without a version,
	// e.g. "#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}"
	// or "#{Octopus.Action[Install].Package.PackageVersion}"; empty takes
	// the next patch number.
	ReleaseVersionTemplate string `json:"releaseVersionTemplate,omitempty"`
}

// Validate checks the fields a user controls; references are checked by the
// store, which knows what exists.
func (pr *Project) Validate() error {
	p := problems{subject: "project"}
	checkName(&p, "name", pr.Name)
	return p.err()
}
