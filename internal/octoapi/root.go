package octoapi

import (
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// rootDocument is /api and /api/Spaces-1: clients build most URLs from the
// URI templates in its Links, and drop any parameter a template lacks, so
// the templates name every parameter Octopus's do.
type rootDocument struct {
	Application          string            `json:"Application"`
	Version              string            `json:"Version"`
	APIVersion           string            `json:"ApiVersion"`
	IsEarlyAccessProgram bool              `json:"IsEarlyAccessProgram"`
	HasLongTermSupport   bool              `json:"HasLongTermSupport"`
	ID                   string            `json:"Id,omitempty"`
	Name                 string            `json:"Name,omitempty"`
	Links                map[string]string `json:"Links"`
}

// octopusVersion is the Octopus release whose API this adapter follows;
// clients compare versions to pick endpoints.
const octopusVersion = "2024.1.0"

func spaceLinks() map[string]string {
	p := spacePath
	links := map[string]string{
		"SpaceHome":     p,
		"Environments":  p + "/environments{/id}{?name,skip,ids,take,partialName}",
		"Projects":      p + "/projects{/id}{?name,skip,ids,clone,take,partialName,clonedFromProjectId}",
		"Lifecycles":    p + "/lifecycles{/id}{?skip,take,ids,partialName}",
		"ProjectGroups": p + "/projectgroups{/id}{?skip,take,ids,partialName}",
		"Channels":      p + "/channels{/id}{?skip,take,ids,partialName}",
		"Releases":      p + "/releases{/id}{?skip,ignoreChannelRules,take,ids}",
		"Deployments":   p + "/deployments{/id}{?skip,take,ids,projects,environments,tenants,channels,taskState,partialName}",
		"Tasks":         p + "/tasks{/id}{?skip,active,environment,tenant,runbook,project,name,node,running,states,hasPendingInterruptions,hasWarningsOrErrors,take,ids,partialName,spaces,includeSystem}",
		"Machines":      p + "/machines{/id}{?skip,take,name,ids,partialName,roles,isDisabled,healthStatuses,commStyles,tenantIds,tenantTags,environmentIds,thumbprint,deploymentId,shellNames,deploymentTargetTypes}",
		"Workers":       p + "/workers{/id}{?skip,take,name,ids,partialName,isDisabled,healthStatuses,commStyles,workerPoolIds,thumbprint,shellNames}",
		"WorkerPools":   p + "/workerpools{/id}{?name,skip,ids,take,partialName}",
		"Tenants":       p + "/tenants{/id}{?skip,projectId,name,tags,take,ids,clone,partialName,clonedFromTenantId}",
		"TagSets":       p + "/tagsets{/id}{?skip,take,ids,partialName}",
		"Accounts":      p + "/accounts{/id}{?skip,take,ids,partialName,accountType}",
		"Proxies":       p + "/proxies{/id}{?skip,take,ids,partialName}",
		"Certificates":  p + "/certificates{/id}{?skip,take,search,archived,tenant,firstResult,orderBy,ids,partialName}",
		"Feeds":         p + "/feeds{/id}{?skip,take,ids,partialName,feedType,name}",
		"PackageUpload": p + "/packages/raw{?replace,overwriteMode}",
	}
	// Apart, so the map above keeps its alignment (and merges cleanly).
	links["ActionTemplates"] = p + "/actiontemplates{/id}{?skip,take,ids,partialName}"
	return links
}

func (h *Handler) rootLinks() map[string]string {
	links := spaceLinks()
	links["Self"] = "/api"
	links["Spaces"] = "/api/spaces{/id}{?skip,ids,take,partialName}"
	links["Users"] = "/api/users{/id}{?skip,take,ids,filter}"
	links["CurrentUser"] = "/api/users/me"
	links["SpaceHome"] = "/api/{spaceId}"
	return links
}

func (h *Handler) root(c *call) error {
	return c.ok(rootDocument{Application: "Pulpo (Octopus Deploy compatible)", Version: octopusVersion, APIVersion: "3.0.0",
		Links: h.rootLinks()})
}

func (h *Handler) spaceRoot(c *call) error {
	links := spaceLinks()
	links["Self"] = spacePath
	return c.ok(rootDocument{Application: "Pulpo (Octopus Deploy compatible)", Version: octopusVersion, APIVersion: "3.0.0",
		ID: SpaceID, Name: spaceName, Links: links})
}

// Spaces: there is one.

type space struct {
	ID                       string            `json:"Id"`
	Name                     string            `json:"Name"`
	Slug                     string            `json:"Slug"`
	Description              string            `json:"Description"`
	IsDefault                bool              `json:"IsDefault"`
	TaskQueueStopped         bool              `json:"TaskQueueStopped"`
	SpaceManagersTeams       []string          `json:"SpaceManagersTeams"`
	SpaceManagersTeamMembers []string          `json:"SpaceManagersTeamMembers"`
	Links                    map[string]string `json:"Links"`
}

func theSpace() space {
	return space{ID: SpaceID, Name: spaceName, Slug: strings.ToLower(spaceName), Description: "Pulpo's one space",
		IsDefault: true, SpaceManagersTeams: []string{}, SpaceManagersTeamMembers: []string{},
		Links: map[string]string{"Self": "/api/spaces/" + SpaceID, "SpaceHome": spacePath}}
}

func (h *Handler) spaces(c *call, segs []string) error {
	switch {
	case len(segs) == 0:
		return c.get(func(c *call) error {
			p, err := pagingOf(c.r)
			if err != nil {
				return err
			}
			list := []space{theSpace()}
			q := c.r.URL.Query()
			if n := q.Get("partialName"); n != "" && !strings.Contains(strings.ToLower(spaceName), strings.ToLower(n)) {
				list = nil
			}
			if ids := queryList(q, "ids"); len(ids) > 0 && !containsFold(ids, SpaceID) {
				list = nil
			}
			return c.ok(pageItems(c.r, "Space", list, len(list), p, false))
		})
	case len(segs) == 1 && segs[0] == "all":
		return c.get(func(c *call) error { return c.ok([]space{theSpace()}) })
	case len(segs) == 1 && isSpace(segs[0]):
		return c.get(func(c *call) error { return c.ok(theSpace()) })
	case len(segs) >= 2 && isSpace(segs[0]):
		// /api/spaces/Spaces-1/tasks/{id}/cancel and the like.
		return h.inSpace(c, segs[1:])
	}
	return notFound("Pulpo has one space, %s (%q); there is no %q", SpaceID, spaceName, strings.Join(segs, "/"))
}

// Users: the caller, for `octopus login` and whoami checks.

type user struct {
	ID                  string            `json:"Id"`
	Username            string            `json:"Username"`
	DisplayName         string            `json:"DisplayName"`
	EmailAddress        string            `json:"EmailAddress"`
	IsActive            bool              `json:"IsActive"`
	IsService           bool              `json:"IsService"`
	IsRequestor         bool              `json:"IsRequestor"`
	CanPasswordBeEdited bool              `json:"CanPasswordBeEdited"`
	Links               map[string]string `json:"Links"`
}

func (h *Handler) users(c *call, segs []string) error {
	if len(segs) != 1 {
		return notFound("Pulpo serves only the caller here (/api/users/me); manage users with /api/v1/users")
	}
	return c.get(func(c *call) error {
		var u model.User
		if err := c.getJSON("/users/"+segs[0], nil, &u); err != nil {
			return err
		}
		name := u.DisplayName
		if name == "" {
			name = u.Username
		}
		return c.ok(user{ID: u.ID, Username: u.Username, DisplayName: name, EmailAddress: u.EmailAddress, IsActive: !u.Disabled,
			IsService: u.IsService, IsRequestor: true, CanPasswordBeEdited: !u.IsService,
			Links: map[string]string{"Self": "/api/users/" + u.ID}})
	})
}
