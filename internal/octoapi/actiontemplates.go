package octoapi

import (
	"crypto/sha1"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// actionTemplate is Octopus's ActionTemplateResource: a step template as
// the action it makes (Octopus.Script, Octopus.TentaclePackage) with its
// parameters.
type actionTemplate struct {
	ID                        string              `json:"Id"`
	SpaceID                   string              `json:"SpaceId"`
	Name                      string              `json:"Name"`
	Description               string              `json:"Description"`
	ActionType                string              `json:"ActionType"`
	Version                   int                 `json:"Version"`
	CommunityActionTemplateID *string             `json:"CommunityActionTemplateId"`
	Packages                  []packageReference  `json:"Packages"`
	GitDependencies           []any               `json:"GitDependencies"`
	Properties                map[string]string   `json:"Properties"`
	Parameters                []templateParameter `json:"Parameters"`
	Links                     map[string]string   `json:"Links"`
}

// packageReference is a package an Octopus action takes; Name is empty for
// the action's own package.
type packageReference struct {
	ID                  string            `json:"Id"`
	Name                string            `json:"Name"`
	PackageID           string            `json:"PackageId"`
	FeedID              string            `json:"FeedId"`
	AcquisitionLocation string            `json:"AcquisitionLocation"`
	Properties          map[string]string `json:"Properties"`
}

// templateParameter is one of an action template's parameters.
// DefaultValue is a string, or for a sensitive parameter Octopus's
// write-only value: whether there is one, never the value (Pulpo's
// sensitive parameters have none).
type templateParameter struct {
	ID              string            `json:"Id"`
	Name            string            `json:"Name"`
	Label           string            `json:"Label"`
	HelpText        string            `json:"HelpText"`
	DefaultValue    any               `json:"DefaultValue"`
	DisplaySettings map[string]string `json:"DisplaySettings"`
}

var actionTemplates = &collection[model.StepTemplate, actionTemplate]{
	inner: "/step-templates", itemType: "ActionTemplate",
	convert: func(_ *call, t model.StepTemplate) actionTemplate { return actionTemplateOf(t) },
	id:      func(o actionTemplate) string { return o.ID },
	name:    func(o actionTemplate) string { return o.Name },
	manage:  "create and change step templates with `pulpo step-template` or /api/v1/step-templates",
}

// actionTemplates serves /api/Spaces-1/actiontemplates, one template, and
// one kept version of it (…/{id}/versions/{version}).
func (h *Handler) actionTemplates(c *call, segs []string) error {
	switch {
	case len(segs) == 1 && (strings.EqualFold(segs[0], "categories") || strings.EqualFold(segs[0], "search")):
		return c.unserved("Pulpo has no community step template library; list step templates with /api/Spaces-1/actiontemplates")
	case len(segs) == 3 && strings.EqualFold(segs[1], "versions"):
		if err := actionTemplates.readOnly(c); err != nil {
			return err
		}
		v, err := strconv.Atoi(segs[2])
		if err != nil || v < 1 {
			return badRequest("a step template's version is a whole number from 1, not %q", segs[2])
		}
		return getOne(c, "/step-templates/"+url.PathEscape(segs[0])+"/versions/"+strconv.Itoa(v), actionTemplateOf)
	}
	return actionTemplates.serve(c, segs)
}

// Octopus's names of script syntaxes; Octopus has no plain sh, which runs
// such a script with bash.
var octopusSyntax = map[model.ScriptSyntax]string{model.SyntaxBash: "Bash", model.SyntaxSh: "Bash", model.SyntaxPython: "Python"}

// scriptExtension names a custom deployment script's property as Octopus
// does (Octopus.Action.CustomScripts.PreDeploy.sh).
var scriptExtension = map[model.ScriptSyntax]string{model.SyntaxBash: "sh", model.SyntaxSh: "sh", model.SyntaxPython: "py"}

func actionTemplateOf(t model.StepTemplate) actionTemplate {
	out := actionTemplate{ID: t.ID, SpaceID: SpaceID, Name: t.Name, Description: t.Description, Version: t.Version,
		Packages: []packageReference{}, GitDependencies: []any{}, Properties: map[string]string{}, Parameters: []templateParameter{},
		Links: selfLink("actiontemplates", t.ID)}
	switch {
	case t.Script != nil:
		out.ActionType = "Octopus.Script"
		s := t.Script
		syntax := s.Syntax
		if syntax == "" {
			syntax = model.SyntaxBash
		}
		out.Properties["Octopus.Action.Script.Syntax"] = octopusSyntax[syntax]
		if s.FromPackage != nil {
			fp := s.FromPackage
			out.Properties["Octopus.Action.Script.ScriptSource"] = "Package"
			out.Properties["Octopus.Action.Script.ScriptFileName"] = fp.File
			out.Properties["Octopus.Action.Script.ScriptParameters"] = fp.Arguments
			out.Packages = append(out.Packages, packageRef(t.ID, "", fp.PackageID, fp.FeedID, fp.Acquisition, true))
			substitute(out.Properties, fp.SubstituteFiles)
		} else {
			out.Properties["Octopus.Action.Script.ScriptSource"] = "Inline"
			out.Properties["Octopus.Action.Script.ScriptBody"] = s.Body
		}
		for _, r := range s.Packages {
			out.Packages = append(out.Packages, packageRef(t.ID, r.Name, r.PackageID, r.FeedID, r.Acquisition, r.Extract))
		}
	case t.Package != nil:
		packageProperties(&out, t.ID, t.Package)
	}
	for _, p := range t.Parameters {
		out.Parameters = append(out.Parameters, templateParameterOf(t.ID, p))
	}
	return out
}

// packageProperties describes a package step as Octopus's "Deploy a
// package" action and the features it turns on.
func packageProperties(out *actionTemplate, templateID string, p *model.PackageAction) {
	out.ActionType = "Octopus.TentaclePackage"
	props := out.Properties
	ref := packageRef(templateID, "", p.PackageID, p.FeedID, p.Acquisition, true)
	out.Packages = append(out.Packages, ref)
	props["Octopus.Action.Package.PackageId"] = ref.PackageID
	props["Octopus.Action.Package.FeedId"] = ref.FeedID
	props["Octopus.Action.Package.DownloadOnTentacle"] = boolName(ref.AcquisitionLocation == "ExecutionTarget")
	var features []string
	if substitute(props, p.SubstituteFiles) {
		features = append(features, "Octopus.Features.SubstituteInFiles")
	}
	if len(p.StructuredConfigFiles) > 0 {
		features = append(features, "Octopus.Features.JsonConfigurationVariables")
		props["Octopus.Action.Package.JsonConfigurationVariablesEnabled"] = "True"
		props["Octopus.Action.Package.JsonConfigurationVariablesTargets"] = strings.Join(p.StructuredConfigFiles, "\n")
	}
	if p.CustomInstallDir != "" {
		features = append(features, "Octopus.Features.CustomDirectory")
		props["Octopus.Action.Package.CustomInstallationDirectory"] = p.CustomInstallDir
		props["Octopus.Action.Package.CustomInstallationDirectoryShouldBePurgedBeforeDeployment"] = boolName(p.PurgeCustomInstallDir)
		if len(p.CustomInstallExclude) > 0 {
			props["Octopus.Action.Package.CustomInstallationDirectoryPurgeExclusions"] = strings.Join(p.CustomInstallExclude, "\n")
		}
	}
	custom := false
	for _, s := range []struct {
		stage  string
		script *model.ScriptAction
	}{{"PreDeploy", p.PreDeploy}, {"Deploy", p.Deploy}, {"PostDeploy", p.PostDeploy}, {"DeployFailed", p.DeployFailed}} {
		if s.script == nil {
			continue
		}
		syntax := s.script.Syntax
		if syntax == "" {
			syntax = model.SyntaxBash
		}
		props["Octopus.Action.CustomScripts."+s.stage+"."+scriptExtension[syntax]] = s.script.Body
		custom = true
	}
	if custom {
		features = append(features, "Octopus.Features.CustomScripts")
	}
	if p.SkipPackageScripts {
		props["Octopus.Action.Package.RunPackageScripts"] = "False"
	}
	if len(features) > 0 {
		props["Octopus.Action.EnabledFeatures"] = strings.Join(features, ",")
	}
}

// substitute sets the properties of Octopus's "Substitute Variables in
// Templates" feature, and reports whether there are files to substitute.
func substitute(props map[string]string, globs []string) bool {
	if len(globs) == 0 {
		return false
	}
	props["Octopus.Action.SubstituteInFiles.Enabled"] = "True"
	props["Octopus.Action.SubstituteInFiles.TargetFiles"] = strings.Join(globs, "\n")
	return true
}

func boolName(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func packageRef(templateID, name, packageID, feedID string, acq model.PackageAcquisition, extract bool) packageReference {
	if feedID == "" {
		feedID = model.BuiltInFeedID
	}
	where := "Server"
	switch acq {
	case model.AcquireOnTarget:
		where = "ExecutionTarget"
	case model.AcquireNone:
		where = "NotAcquired"
	}
	return packageReference{ID: stableGUID(templateID, "package", name), Name: name, PackageID: packageID, FeedID: feedID,
		AcquisitionLocation: where, Properties: map[string]string{"Extract": boolName(extract), "SelectionMode": "immediate"}}
}

// octopusControl names a parameter's control as Octopus's display settings do.
var octopusControl = map[model.ParameterControl]string{
	model.ControlText: "SingleLineText", model.ControlMultiline: "MultiLineText", model.ControlCheckbox: "Checkbox",
	model.ControlSelect: "Select", model.ControlSensitive: "Sensitive",
}

func templateParameterOf(templateID string, p model.StepTemplateParameter) templateParameter {
	control := p.Control
	if control == "" {
		control = model.ControlText
	}
	out := templateParameter{ID: stableGUID(templateID, "parameter", p.Name), Name: p.Name, Label: p.Label, HelpText: p.HelpText,
		DefaultValue: p.DefaultValue, DisplaySettings: map[string]string{"Octopus.ControlType": octopusControl[control]}}
	if control == model.ControlSensitive {
		// Never the value, whatever it is.
		out.DefaultValue = sensitiveValue{HasValue: p.DefaultValue != ""}
	}
	if control == model.ControlSelect {
		// One option a line, "value|label" in Octopus: the label is the value.
		out.DisplaySettings["Octopus.SelectOptions"] = strings.Join(p.Options, "\n")
	}
	return out
}

// stableGUID makes the GUID Octopus gives parameters and package references
// from what names them, so it is the same at every read (Pulpo keeps none).
func stableGUID(parts ...string) string {
	sum := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	sum[6] = sum[6]&0x0f | 0x50 // a name-based (version 5) UUID
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}
