package octoapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

type project struct {
	ID                              string              `json:"Id"`
	Name                            string              `json:"Name"`
	Slug                            string              `json:"Slug"`
	Description                     string              `json:"Description"`
	LifecycleID                     string              `json:"LifecycleId"`
	ProjectGroupID                  string              `json:"ProjectGroupId"`
	SpaceID                         string              `json:"SpaceId"`
	DeploymentProcessID             string              `json:"DeploymentProcessId"`
	VariableSetID                   string              `json:"VariableSetId"`
	IncludedLibraryVariableSetIDs   []string            `json:"IncludedLibraryVariableSetIds"`
	IsDisabled                      bool                `json:"IsDisabled"`
	AutoCreateRelease               bool                `json:"AutoCreateRelease"`
	DiscreteChannelRelease          bool                `json:"DiscreteChannelRelease"`
	IsVersionControlled             bool                `json:"IsVersionControlled"`
	DefaultToSkipIfAlreadyInstalled bool                `json:"DefaultToSkipIfAlreadyInstalled"`
	TenantedDeploymentMode          string              `json:"TenantedDeploymentMode"`
	DefaultGuidedFailureMode        string              `json:"DefaultGuidedFailureMode"`
	PersistenceSettings             map[string]string   `json:"PersistenceSettings"`
	VersioningStrategy              *versioningStrategy `json:"VersioningStrategy,omitempty"`
	ExtensionSettings               []any               `json:"ExtensionSettings"`
	Links                           map[string]string   `json:"Links"`
}

type versioningStrategy struct {
	Template string `json:"Template"`
}

var projects = &collection[model.Project, project]{
	inner: "/projects", itemType: "Project", byName: true,
	convert: projectOf,
	id:      func(o project) string { return o.ID },
	name:    func(o project) string { return o.Name },
	create:  createProject,
}

func projectOf(_ *call, p model.Project) project {
	self := spacePath + "/projects/" + p.ID
	out := project{ID: p.ID, Name: p.Name, Slug: slug(p.Name), Description: p.Description, LifecycleID: p.LifecycleID,
		ProjectGroupID: p.ProjectGroupID, SpaceID: SpaceID, DeploymentProcessID: "deploymentprocess-" + p.ID,
		VariableSetID: "variableset-" + p.ID, IncludedLibraryVariableSetIDs: orEmpty(p.LibrarySetIDs),
		TenantedDeploymentMode: "Untenanted", DefaultGuidedFailureMode: "EnvironmentDefault",
		PersistenceSettings: map[string]string{"Type": "Database"}, ExtensionSettings: []any{},
		Links: map[string]string{"Self": self, "Channels": self + "/channels{/id}{?skip,take,partialName}",
			"Releases": self + "/releases{/version}{?skip,take,searchByVersion}"}}
	if p.ReleaseVersionTemplate != "" {
		out.VersioningStrategy = &versioningStrategy{Template: p.ReleaseVersionTemplate}
	}
	return out
}

func createProject(c *call) error {
	var in struct {
		Name               string
		Description        string
		LifecycleID        string `json:"LifecycleId"`
		ProjectGroupID     string `json:"ProjectGroupId"`
		VersioningStrategy *versioningStrategy
	}
	if err := c.decodeBody(&in); err != nil {
		return err
	}
	p := model.Project{Name: in.Name, Description: in.Description, LifecycleID: in.LifecycleID, ProjectGroupID: in.ProjectGroupID}
	if in.VersioningStrategy != nil {
		p.ReleaseVersionTemplate = in.VersioningStrategy.Template
	}
	if err := c.sendJSON(http.MethodPost, "/projects", p, &p); err != nil {
		return err
	}
	return c.created(projectOf(c, p))
}

// projects serves /api/Spaces-1/projects and what hangs under a project.
func (h *Handler) projects(c *call, segs []string) error {
	if len(segs) < 2 {
		return projects.serve(c, segs)
	}
	p, err := projects.find(c, segs[0])
	if err != nil {
		return err
	}
	switch strings.ToLower(segs[1]) {
	case "releases":
		if len(segs) == 3 {
			return c.get(func(c *call) error { return h.releaseByVersion(c, p.ID, segs[2]) })
		}
		if len(segs) == 2 {
			return c.get(func(c *call) error { return h.listReleases(c, p.ID) })
		}
	case "channels":
		if len(segs) == 2 {
			return c.get(func(c *call) error { return h.listChannels(c, p.ID) })
		}
	}
	return c.unserved("")
}

// Channels. A Pulpo project without channels has one implicitly, as every
// Octopus project does: its releases follow the project's lifecycle. Its id
// is made from the project's, so it can be read back.

type channel struct {
	ID          string            `json:"Id"`
	Name        string            `json:"Name"`
	Description string            `json:"Description"`
	ProjectID   string            `json:"ProjectId"`
	LifecycleID string            `json:"LifecycleId"`
	IsDefault   bool              `json:"IsDefault"`
	SpaceID     string            `json:"SpaceId"`
	Type        string            `json:"Type"`
	Rules       []any             `json:"Rules"`
	TenantTags  []string          `json:"TenantTags"`
	Links       map[string]string `json:"Links"`
}

// implicitChannelPrefix marks the implicit default channel's id.
const implicitChannelPrefix = "Channels-Default-"

// defaultChannelName is the implicit channel's name, as Octopus calls it.
const defaultChannelName = "Default"

func implicitChannel(projectID string) channel {
	id := implicitChannelPrefix + projectID
	return channel{ID: id, Name: defaultChannelName, ProjectID: projectID, IsDefault: true, SpaceID: SpaceID, Type: "Lifecycle",
		Rules: []any{}, TenantTags: []string{}, Links: selfLink("channels", id)}
}

func channelOf(ch model.Channel) channel {
	return channel{ID: ch.ID, Name: ch.Name, Description: ch.Description, ProjectID: ch.ProjectID, LifecycleID: ch.LifecycleID,
		IsDefault: ch.IsDefault, SpaceID: SpaceID, Type: "Lifecycle", Rules: []any{}, TenantTags: []string{},
		Links: selfLink("channels", ch.ID)}
}

// projectChannels lists a project's channels, or its implicit one.
func projectChannels(c *call, projectID string) ([]channel, error) {
	list, err := listAll[model.Channel](c, "/channels", url.Values{"projectId": {projectID}})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return []channel{implicitChannel(projectID)}, nil
	}
	out := make([]channel, 0, len(list))
	for _, ch := range list {
		out = append(out, channelOf(ch))
	}
	return out, nil
}

func (h *Handler) listChannels(c *call, projectID string) error {
	p, err := pagingOf(c.r)
	if err != nil {
		return err
	}
	list, err := projectChannels(c, projectID)
	if err != nil {
		return err
	}
	if n := c.r.URL.Query().Get("partialName"); n != "" {
		kept := list[:0]
		for _, ch := range list {
			if strings.Contains(strings.ToLower(ch.Name), strings.ToLower(n)) {
				kept = append(kept, ch)
			}
		}
		list = kept
	}
	return c.ok(pageItems(c.r, "Channel", list, len(list), p, false))
}

// channels serves /api/Spaces-1/channels/{id}.
func (h *Handler) channels(c *call, segs []string) error {
	if len(segs) != 1 {
		return notFound("Pulpo serves channels one at a time here (channels/{id}); list a project's at projects/{id}/channels")
	}
	return c.get(func(c *call) error {
		if projectID, ok := strings.CutPrefix(segs[0], implicitChannelPrefix); ok {
			if _, err := projects.find(c, projectID); err != nil {
				return err
			}
			return c.ok(implicitChannel(projectID))
		}
		return getOne(c, "/channels/"+url.PathEscape(segs[0]), channelOf)
	})
}

// findChannel picks a project's channel by name or id; "" is the default.
func findChannel(c *call, projectID, nameOrID string) (channel, error) {
	list, err := projectChannels(c, projectID)
	if err != nil {
		return channel{}, err
	}
	for _, ch := range list {
		if (nameOrID == "" && ch.IsDefault) || strings.EqualFold(ch.Name, nameOrID) || ch.ID == nameOrID {
			return ch, nil
		}
	}
	if nameOrID == "" {
		return list[0], nil
	}
	names := make([]string, 0, len(list))
	for _, ch := range list {
		names = append(names, ch.Name)
	}
	return channel{}, badRequest("the project has no channel %q; its channels are: %s", nameOrID, strings.Join(names, ", "))
}
