package confdoc

import "github.com/pulpo-deploy/pulpo/internal/model"

// The library's kinds: external feeds, script modules, step templates and
// certificates. Steps and variables name them by name, as everything else
// in a document.

// Feed is an external package repository. Password travels only in
// archives: a plain export leaves it out, and applying a feed without one
// keeps the password the server has.
type Feed struct {
	Name     string         `json:"name" yaml:"name"`
	Type     model.FeedType `json:"type" yaml:"type"`
	URL      string         `json:"url" yaml:"url"`
	Username string         `json:"username,omitempty" yaml:"username,omitempty"`
	Password string         `json:"password,omitempty" yaml:"password,omitempty"`
}

// ScriptModule is shared script code steps include by name.
type ScriptModule struct {
	Name        string             `json:"name" yaml:"name"`
	Description string             `json:"description,omitempty" yaml:"description,omitempty"`
	Syntax      model.ScriptSyntax `json:"syntax" yaml:"syntax"`
	Body        string             `json:"body" yaml:"body"`
}

// StepTemplate is a step template with its versions, oldest first: a step
// made from it names a version by its number here, and a server that
// lacks the template creates the versions one by one so the numbers stay
// the same. (On a server that has the template already, a step's version
// is matched by content; see the README.)
type StepTemplate struct {
	Name     string                `json:"name" yaml:"name"`
	Versions []StepTemplateVersion `json:"versions" yaml:"versions"`
}

// StepTemplateVersion is what one version of a template holds. Version
// counts from 1; left out, it is the place in the list.
type StepTemplateVersion struct {
	Version     int                     `json:"version,omitempty" yaml:"version,omitempty"`
	Description string                  `json:"description,omitempty" yaml:"description,omitempty"`
	Parameters  []StepTemplateParameter `json:"parameters,omitempty" yaml:"parameters,omitempty"`
	Script      *ScriptAction           `json:"script,omitempty" yaml:"script,omitempty"`
	Package     *PackageAction          `json:"package,omitempty" yaml:"package,omitempty"`
}

// StepTemplateParameter is model.StepTemplateParameter as a file spells it.
type StepTemplateParameter struct {
	Name         string                 `json:"name" yaml:"name"`
	Label        string                 `json:"label,omitempty" yaml:"label,omitempty"`
	HelpText     string                 `json:"helpText,omitempty" yaml:"helpText,omitempty"`
	Control      model.ParameterControl `json:"control,omitempty" yaml:"control,omitempty"`
	DefaultValue string                 `json:"defaultValue,omitempty" yaml:"defaultValue,omitempty"`
	Options      []string               `json:"options,omitempty" yaml:"options,omitempty,flow"`
}

// StepTemplateRef makes a step from a template (by name): its version (the
// file's number when the file lists the template) and its parameter
// values. Sensitive values travel only in archives; applied without one, a
// step keeps the value it has.
type StepTemplateRef struct {
	Name       string            `json:"name" yaml:"name"`
	Version    int               `json:"version" yaml:"version"`
	Parameters map[string]string `json:"parameters,omitempty" yaml:"parameters,omitempty"`
}

// Certificate is a certificate of the library. A plain document cannot
// carry key material: it lists the certificate (the thumbprint is for
// reference) and applying it needs a certificate of that name on the
// server. An archive carries the material: the file as uploaded (base64)
// and its password.
type Certificate struct {
	Name         string   `json:"name" yaml:"name"`
	Notes        string   `json:"notes,omitempty" yaml:"notes,omitempty"`
	Environments []string `json:"environments,omitempty" yaml:"environments,omitempty,flow"`
	Thumbprint   string   `json:"thumbprint,omitempty" yaml:"thumbprint,omitempty"`
	// Archived certificates stay usable by the variables that name them.
	Archived bool `json:"archived,omitempty" yaml:"archived,omitempty"`
	// Data and Password are the upload (archives only).
	Data     string `json:"data,omitempty" yaml:"data,omitempty"`
	Password string `json:"password,omitempty" yaml:"password,omitempty"`
}

// ScriptAction is model.ScriptAction with feeds by name.
type ScriptAction struct {
	Syntax      model.ScriptSyntax `json:"syntax" yaml:"syntax"`
	Body        string             `json:"body,omitempty" yaml:"body,omitempty"`
	FromPackage *ScriptPackage     `json:"fromPackage,omitempty" yaml:"fromPackage,omitempty"`
	Packages    []PackageReference `json:"packages,omitempty" yaml:"packages,omitempty"`
}

// ScriptPackage is model.ScriptPackage with its feed by name (empty: the
// built-in feed). Its feedId must stay empty in a document.
type ScriptPackage struct {
	model.ScriptPackage `yaml:",inline"`
	Feed                string `json:"feed,omitempty" yaml:"feed,omitempty"`
}

// PackageReference is model.PackageReference with its feed by name.
type PackageReference struct {
	model.PackageReference `yaml:",inline"`
	Feed                   string `json:"feed,omitempty" yaml:"feed,omitempty"`
}

// PackageAction is model.PackageAction with its feed by name.
type PackageAction struct {
	model.PackageAction `yaml:",inline"`
	Feed                string `json:"feed,omitempty" yaml:"feed,omitempty"`
}
