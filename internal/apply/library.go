package apply

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// The library's kinds (feeds, script modules, step templates,
// certificates): their appliers, their export, and the conversions of the
// references steps and variables make to them.
//
// Step template versions. A server numbers a template's versions itself,
// so a document lists every version of a template, oldest first, and a
// step names the document's number. A server that lacks the template
// creates it version by version, so the numbers stay the same (a project
// at version 1 stays at version 1). A server that has it matches each of
// the document's versions by content (parameters and action) to one of
// its own, and applying with updates saves the document's newest as a new
// version when its newest differs; a step whose version matches nothing
// there is refused, saying so. The result lists every number that maps to
// another.

// libraryNames turns the library ids steps and variables hold into names,
// for export; open, when set, opens sealed values (archives).
type libraryNames struct {
	feeds     map[string]string // feed id -> name
	templates map[string]string // step template id -> name
	certs     map[string]string // certificate id -> name
	open      func(string) (string, error)
}

// feed names a feed; the built-in feed keeps its id (empty stays empty).
func (l libraryNames) feed(id string) (string, error) {
	if !model.IsExternalFeed(id) {
		return id, nil
	}
	name, ok := l.feeds[id]
	if !ok {
		return "", fmt.Errorf("feed %q does not exist", id)
	}
	return name, nil
}

func (l libraryNames) script(s *model.ScriptAction) (*confdoc.ScriptAction, error) {
	if s == nil {
		return nil, nil
	}
	out := &confdoc.ScriptAction{Syntax: s.Syntax, Body: s.Body}
	if fp := s.FromPackage; fp != nil {
		c := confdoc.ScriptPackage{ScriptPackage: *fp}
		c.SubstituteFiles = slices.Clone(fp.SubstituteFiles)
		var err error
		if c.Feed, err = l.feed(fp.FeedID); err != nil {
			return nil, err
		}
		c.FeedID = ""
		out.FromPackage = &c
	}
	for _, r := range s.Packages {
		c := confdoc.PackageReference{PackageReference: r}
		var err error
		if c.Feed, err = l.feed(r.FeedID); err != nil {
			return nil, err
		}
		c.FeedID = ""
		out.Packages = append(out.Packages, c)
	}
	return out, nil
}

func (l libraryNames) pkg(p *model.PackageAction) (*confdoc.PackageAction, error) {
	if p == nil {
		return nil, nil
	}
	out := &confdoc.PackageAction{PackageAction: *p}
	var err error
	if out.Feed, err = l.feed(p.FeedID); err != nil {
		return nil, err
	}
	out.FeedID = ""
	return out, nil
}

// templateRef names a step's template; an archive's export opens its
// sensitive values into the parameters, a plain one leaves them out.
func (l libraryNames) templateRef(t *model.StepTemplateRef) (*confdoc.StepTemplateRef, error) {
	name, ok := l.templates[t.ID]
	if !ok {
		return nil, fmt.Errorf("step template %q does not exist", t.ID)
	}
	out := &confdoc.StepTemplateRef{Name: name, Version: t.Version, Parameters: maps.Clone(t.Parameters)}
	if l.open != nil {
		for k, sealed := range t.Sensitive {
			if sealed == "" {
				continue
			}
			plain, err := l.open(sealed)
			if err != nil {
				return nil, fmt.Errorf("open the sensitive parameter %q: %w", k, err)
			}
			if out.Parameters == nil {
				out.Parameters = map[string]string{}
			}
			out.Parameters[k] = plain
		}
	}
	return out, nil
}

// exportLibrary writes the library's kinds into doc and returns the names
// steps and variables need.
func exportLibrary(ctx context.Context, q *store.Queries, doc *confdoc.Document, envNames func([]string) []string,
	open func(string) (string, error)) (libraryNames, error) {
	lib := libraryNames{feeds: map[string]string{}, templates: map[string]string{}, certs: map[string]string{}, open: open}
	feeds, _, err := q.ListFeeds(ctx, store.ListOptions{})
	if err != nil {
		return lib, fmt.Errorf("export feeds: %w", err)
	}
	for _, f := range feeds {
		lib.feeds[f.ID] = f.Name
		out := confdoc.Feed{Name: f.Name, Type: f.Type, URL: f.URL, Username: f.Username}
		if open != nil && f.HasPassword {
			if _, out.Password, err = q.FeedWithPassword(ctx, f.ID); err != nil {
				return lib, fmt.Errorf("export feed %q: %w", f.Name, err)
			}
		}
		doc.Feeds = append(doc.Feeds, out)
	}
	modules, _, err := q.ListScriptModules(ctx, store.ListOptions{})
	if err != nil {
		return lib, fmt.Errorf("export script modules: %w", err)
	}
	for _, m := range modules {
		doc.ScriptModules = append(doc.ScriptModules, confdoc.ScriptModule{Name: m.Name, Description: m.Description, Syntax: m.Syntax, Body: m.Body})
	}
	templates, _, err := q.ListStepTemplates(ctx, store.ListOptions{})
	if err != nil {
		return lib, fmt.Errorf("export step templates: %w", err)
	}
	for _, t := range templates {
		lib.templates[t.ID] = t.Name
		versions, err := q.ListStepTemplateVersions(ctx, t.ID)
		if err != nil {
			return lib, fmt.Errorf("export step template %q: %w", t.Name, err)
		}
		out := confdoc.StepTemplate{Name: t.Name}
		for _, v := range slices.Backward(versions) {
			cv := confdoc.StepTemplateVersion{Version: v.Version, Description: v.Description}
			for _, p := range v.Parameters {
				cv.Parameters = append(cv.Parameters, confdoc.StepTemplateParameter(p))
			}
			if cv.Script, err = lib.script(v.Script); err == nil {
				cv.Package, err = lib.pkg(v.Package)
			}
			if err != nil {
				return lib, fmt.Errorf("export step template %q version %d: %w", t.Name, v.Version, err)
			}
			out.Versions = append(out.Versions, cv)
		}
		doc.StepTemplates = append(doc.StepTemplates, out)
	}
	certs, _, err := q.ListCertificates(ctx, store.CertificateFilter{Archived: true})
	if err != nil {
		return lib, fmt.Errorf("export certificates: %w", err)
	}
	for _, c := range certs {
		lib.certs[c.ID] = c.Name
		// The earlier versions a replace kept stay behind: they share the
		// current one's name, and a document holds one certificate a name.
		if c.Archived && c.ReplacedBy != "" {
			continue
		}
		out := confdoc.Certificate{Name: c.Name, Notes: c.Notes, Environments: envNames(c.EnvironmentIDs), Thumbprint: c.Thumbprint, Archived: c.Archived}
		if open != nil {
			_, m, err := q.CertificateMaterial(ctx, c.ID)
			if err != nil {
				return lib, fmt.Errorf("export certificate %q: %w", c.Name, err)
			}
			out.Data, out.Password = base64.StdEncoding.EncodeToString(m.Original), m.Password
		}
		doc.Certificates = append(doc.Certificates, out)
	}
	return lib, nil
}

// feedID turns a document's feed name into the id; the built-in feed's id
// stays. A feedId in the document is refused: ids differ between servers.
func (a *applier) feedID(ctx context.Context, field, name, id string, problems *[]string) string {
	if id != "" && model.IsExternalFeed(id) {
		*problems = append(*problems, fmt.Sprintf("%s.feedId: name the feed with feed: NAME (ids differ between servers)", field))
		return ""
	}
	if name == "" {
		return id
	}
	if !model.IsExternalFeed(name) {
		return model.BuiltInFeedID
	}
	f, err := a.q.GetFeed(ctx, name)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s.feed: feed %q is neither in the file nor on the server", field, name))
		return ""
	}
	return f.ID
}

func (a *applier) script(ctx context.Context, field string, s *confdoc.ScriptAction, problems *[]string) *model.ScriptAction {
	if s == nil {
		return nil
	}
	out := &model.ScriptAction{Syntax: s.Syntax, Body: s.Body}
	if fp := s.FromPackage; fp != nil {
		c := fp.ScriptPackage
		c.SubstituteFiles = slices.Clone(fp.SubstituteFiles)
		c.FeedID = a.feedID(ctx, field+".fromPackage", fp.Feed, fp.FeedID, problems)
		out.FromPackage = &c
	}
	for i, r := range s.Packages {
		c := r.PackageReference
		c.FeedID = a.feedID(ctx, fmt.Sprintf("%s.packages[%d]", field, i), r.Feed, r.FeedID, problems)
		out.Packages = append(out.Packages, c)
	}
	return out
}

func (a *applier) pkg(ctx context.Context, field string, p *confdoc.PackageAction, problems *[]string) *model.PackageAction {
	if p == nil {
		return nil
	}
	out := clone(p.PackageAction)
	out.FeedID = a.feedID(ctx, field, p.Feed, p.FeedID, problems)
	return &out
}

func clone[T any](v T) T {
	b, _ := json.Marshal(v)
	var out T
	_ = json.Unmarshal(b, &out)
	return out
}

// templateIDs is a template of the file as this server has it: its id and
// the server's number of each of the file's versions that has one.
type templateIDs struct {
	id       string
	versions map[int]int
	newest   int // the file's newest version
}

// templateRef turns a step's template by name into the server's id and
// version number.
func (a *applier) templateRef(ctx context.Context, field string, r *confdoc.StepTemplateRef, problems *[]string) *model.StepTemplateRef {
	out := &model.StepTemplateRef{Version: r.Version, Parameters: maps.Clone(r.Parameters)}
	if t, ok := a.templates[model.NameKey(r.Name)]; ok {
		out.ID = t.id
		if r.Version != 0 {
			v, ok := t.versions[r.Version]
			if !ok {
				hint := "move the step to the template's newest version where the file comes from, and export again"
				if r.Version == t.newest {
					hint = "import with --update-existing, which adds it as this server's next version"
				}
				*problems = append(*problems, fmt.Sprintf("%s.version: step template %q version %d of the file has no version with the same parameters and action on this server; %s",
					field, r.Name, r.Version, hint))
				return nil
			}
			out.Version = v
		}
		return out
	}
	t, err := a.q.FindStepTemplate(ctx, r.Name)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s.name: step template %q is neither in the file nor on the server", field, r.Name))
		return nil
	}
	out.ID = t.ID
	return out
}

func (a *applier) feed(ctx context.Context, want confdoc.Feed) error {
	f, stored, err := a.q.FeedWithPassword(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		f = model.Feed{Name: want.Name, Type: want.Type, URL: want.URL, Username: want.Username, Password: want.Password}
		if err := a.q.CreateFeed(ctx, &f); err != nil {
			return inFile("feed", want.Name, err)
		}
		a.record("feed", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	// A file without a password keeps the server's.
	diff := diffFields(f.Name != want.Name, "name", f.Type != want.Type, "type", f.URL != want.URL, "url", f.Username != want.Username, "username",
		want.Password != "" && want.Password != stored, "password")
	if a.kept("feed", want.Name, diff) {
		return nil
	}
	if len(diff) > 0 {
		f.Name, f.Type, f.URL, f.Username, f.Password = want.Name, want.Type, want.URL, want.Username, want.Password
		if err := a.q.UpdateFeed(ctx, &f); err != nil {
			return inFile("feed", want.Name, err)
		}
	}
	a.recordDiff("feed", want.Name, diff)
	return nil
}

func (a *applier) scriptModule(ctx context.Context, want confdoc.ScriptModule) error {
	m, err := a.q.FindScriptModule(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		m = model.ScriptModule{Name: want.Name, Description: want.Description, Syntax: want.Syntax, Body: want.Body}
		if err := a.q.CreateScriptModule(ctx, &m); err != nil {
			return inFile("script module", want.Name, err)
		}
		a.record("script module", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	diff := diffFields(m.Description != want.Description, "description", want.Syntax != "" && m.Syntax != want.Syntax, "syntax", m.Body != want.Body, "body")
	if a.kept("script module", want.Name, diff) {
		return nil
	}
	if len(diff) > 0 {
		m.Description, m.Body = want.Description, want.Body
		if want.Syntax != "" {
			m.Syntax = want.Syntax
		}
		if err := a.q.UpdateScriptModule(ctx, &m); err != nil {
			return inFile("script module", want.Name, err)
		}
	}
	a.recordDiff("script module", want.Name, diff)
	return nil
}

// templateContent is what a step made from a version depends on: its
// parameters and action (not the name or description).
func templateContent(t model.StepTemplate) string {
	t.Normalize()
	b, _ := json.Marshal(struct {
		P []model.StepTemplateParameter
		S *model.ScriptAction
		K *model.PackageAction
	}{t.Parameters, t.Script, t.Package})
	return string(b)
}

func (a *applier) stepTemplate(ctx context.Context, want confdoc.StepTemplate) error {
	subject := fmt.Sprintf("step template %q", want.Name)
	if len(want.Versions) == 0 {
		return &model.ValidationError{Subject: subject, Problems: []string{"versions: list at least one version"}}
	}
	var problems []string
	versions := make([]model.StepTemplate, len(want.Versions))
	for i, v := range want.Versions {
		f := fmt.Sprintf("versions[%d]", i)
		if v.Version != 0 && v.Version != i+1 {
			problems = append(problems, fmt.Sprintf("%s.version: is %d, but the versions are listed oldest first from 1 (this would be %d)", f, v.Version, i+1))
		}
		var params []model.StepTemplateParameter
		for _, p := range v.Parameters {
			params = append(params, model.StepTemplateParameter(p))
		}
		versions[i] = model.StepTemplate{Name: want.Name, Description: v.Description, Parameters: params,
			Script: a.script(ctx, f+".script", v.Script, &problems), Package: a.pkg(ctx, f+".package", v.Package, &problems)}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: subject, Problems: problems}
	}
	ids := templateIDs{versions: map[int]int{}, newest: len(versions)}
	defer func() { a.templates[model.NameKey(want.Name)] = ids }()
	newest := versions[len(versions)-1]
	existing, err := a.q.FindStepTemplate(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		// Version by version, so the numbers stay those of the file.
		t := versions[0]
		if err := a.q.CreateStepTemplate(ctx, &t); err != nil {
			return inFile("step template", want.Name, err)
		}
		ids.id, ids.versions[1] = t.ID, t.Version
		for i, v := range versions[1:] {
			v.ID, v.Version = t.ID, t.Version
			if err := a.q.UpdateStepTemplate(ctx, &v); err != nil {
				return inFile("step template", want.Name, err)
			}
			t = v
			ids.versions[i+2] = t.Version
		}
		a.record("step template", want.Name, confdoc.Created, renumbered(ids.versions)...)
		return nil
	}
	if err != nil {
		return err
	}
	ids.id = existing.ID
	stored, err := a.q.ListStepTemplateVersions(ctx, existing.ID) // newest first
	if err != nil {
		return err
	}
	for i, v := range versions {
		c := templateContent(v)
		// The same number when it matches, else the newest that does.
		if n := i + 1; n <= existing.Version && existing.Version-n < len(stored) {
			if sv := stored[existing.Version-n]; sv.Version == n && templateContent(sv) == c {
				ids.versions[n] = n
				continue
			}
		}
		for _, sv := range stored {
			if templateContent(sv) == c {
				ids.versions[i+1] = sv.Version
				break
			}
		}
	}
	diff := diffFields(existing.Name != want.Name, "name", existing.Description != newest.Description, "description",
		templateContent(existing) != templateContent(newest), fmt.Sprintf("version %d (the file's %d)", existing.Version+1, len(versions)))
	if a.kept("step template", want.Name, diff) {
		// What the steps' numbers become shows even when nothing else
		// changes.
		last := &a.changes[len(a.changes)-1]
		last.Fields = append(last.Fields, renumbered(ids.versions)...)
		return nil
	}
	action := confdoc.Unchanged
	if len(diff) > 0 {
		next := newest
		next.ID, next.Version = existing.ID, existing.Version
		if err := a.q.UpdateStepTemplate(ctx, &next); err != nil {
			return inFile("step template", want.Name, err)
		}
		ids.versions[len(versions)] = next.Version
		action = confdoc.Updated
	}
	a.record("step template", want.Name, action, append(diff, renumbered(ids.versions)...)...)
	return nil
}

// renumbered lists the file's versions that are another number here.
func renumbered(m map[int]int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != k {
			out = append(out, fmt.Sprintf("the file's version %d is version %d here", k, m[k]))
		}
	}
	return out
}

// certificate applies a certificate. Without material (a plain file) it
// must exist; with it (an archive) a missing one is created, and one of
// the same name with another thumbprint is replaced when updating,
// keeping its id.
func (a *applier) certificate(ctx context.Context, want confdoc.Certificate) error {
	var problems []string
	envs := a.envRefs("environments", want.Environments, &problems)
	if len(problems) > 0 {
		return &model.ValidationError{Subject: fmt.Sprintf("certificate %q", want.Name), Problems: problems}
	}
	c, err := a.q.GetCertificate(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		if want.Data == "" {
			return &model.ValidationError{Subject: fmt.Sprintf("certificate %q", want.Name), Problems: []string{
				"this server has no certificate of that name, and a plain file cannot carry one: upload it first (pulpo certificate create), or move it in an archive (pulpo archive export/import)"}}
		}
		c = model.Certificate{Name: want.Name, Notes: want.Notes, EnvironmentIDs: envs, CertificateData: want.Data, Password: want.Password}
		if err := a.q.CreateCertificate(ctx, &c); err != nil {
			return inFile("certificate", want.Name, err)
		}
		a.certIDs[model.NameKey(want.Name)] = c.ID
		if want.Archived {
			a.archiveLater = append(a.archiveLater, c.ID)
		}
		a.record("certificate", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	a.certIDs[model.NameKey(want.Name)] = c.ID
	replace := want.Data != "" && !strings.EqualFold(want.Thumbprint, c.Thumbprint)
	diff := diffFields(c.Name != want.Name, "name", c.Notes != want.Notes, "notes", !sameSet(c.EnvironmentIDs, envs), "environments",
		replace, "certificate (thumbprint "+want.Thumbprint+")", c.Archived != want.Archived, "archived")
	if a.kept("certificate", want.Name, diff) {
		return nil
	}
	// Archived only once the file's variables are saved: new variables
	// cannot name an archived certificate.
	if c.Archived != want.Archived {
		if want.Archived {
			a.archiveLater = append(a.archiveLater, c.ID)
		} else if c, err = a.q.SetCertificateArchived(ctx, c.ID, false); err != nil {
			return inFile("certificate", want.Name, err)
		}
	}
	if replace {
		if c, err = a.q.ReplaceCertificate(ctx, c.ID, model.Certificate{CertificateData: want.Data, Password: want.Password}); err != nil {
			return inFile("certificate", want.Name, err)
		}
	}
	if len(diff) > 0 {
		c.Name, c.Notes, c.EnvironmentIDs = want.Name, want.Notes, envs
		if err := a.q.UpdateCertificate(ctx, &c); err != nil {
			return inFile("certificate", want.Name, err)
		}
	}
	a.recordDiff("certificate", want.Name, diff)
	return nil
}

// certificateID turns a certificate variable's value (a name) into the id.
func (a *applier) certificateID(ctx context.Context, field, name string, problems *[]string) string {
	if id, ok := a.certIDs[model.NameKey(name)]; ok {
		return id
	}
	c, err := a.q.GetCertificate(ctx, name)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s.value: certificate %q is neither in the file nor on the server", field, name))
		return ""
	}
	return c.ID
}

// sameSteps says whether saving want would leave stored as it is. A step
// made from a template is compared as saving makes it: its action and
// defaults from the template version, its sensitive values apart (opened
// to compare; one the file leaves out is kept).
func (a *applier) sameSteps(ctx context.Context, stored, want []model.Step) (bool, error) {
	if len(stored) != len(want) {
		return false, nil
	}
	s, w := slices.Clone(stored), slices.Clone(want)
	for i := range w {
		if w[i].Template == nil || s[i].Template == nil || w[i].Template.ID != s[i].Template.ID {
			continue
		}
		ref := *w[i].Template
		var t model.StepTemplate
		var err error
		if ref.Version == 0 {
			t, err = a.q.GetStepTemplate(ctx, ref.ID)
		} else {
			t, err = a.q.GetStepTemplateVersion(ctx, ref.ID, ref.Version)
		}
		if err != nil {
			return false, nil // saving says what is wrong
		}
		ref.Version = t.Version
		w[i].Template = &ref
		sensitive, err := t.ApplyTo(&w[i], "")
		if err != nil {
			return false, nil
		}
		d := model.DeploymentProcess{Steps: w[i : i+1]}
		d.Normalize()
		opened := map[string]string{}
		for k, sealed := range s[i].Template.Sensitive {
			if opened[k], err = a.q.OpenSealed(sealed); err != nil {
				return false, fmt.Errorf("step %q: open the sensitive parameter %q: %w", s[i].Name, k, err)
			}
		}
		for k, v := range opened {
			if p, ok := t.Parameter(k); ok && p.Control == model.ControlSensitive && sensitive[p.Name] == "" {
				if sensitive == nil {
					sensitive = map[string]string{}
				}
				sensitive[p.Name] = v
			}
		}
		sr := *s[i].Template
		sr.Sensitive = nilIfEmpty(opened)
		s[i].Template = &sr
		w[i].Template.Sensitive = nilIfEmpty(sensitive)
	}
	return reflect.DeepEqual(normalSteps(s), normalSteps(w)), nil
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
