package wire

import (
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// CreateBoardShareRequest asks for a link that shows the release board
// without logging in: all of it, a project group's or a project's.
type CreateBoardShareRequest struct {
	Name           string     `json:"name"`
	ProjectGroupID string     `json:"projectGroupId,omitempty"`
	ProjectID      string     `json:"projectId,omitempty"`
	ExpiresAt      *time.Time `json:"expiresAt,omitempty"`
}

// CreatedBoardShare is a new share link: its token is shown this once.
type CreatedBoardShare struct {
	Share model.BoardShare `json:"share"`
	Token string           `json:"token"`
	// Path is the portal page it opens (/board/<token>); APIPath the JSON.
	Path    string `json:"path"`
	APIPath string `json:"apiPath"`
}

// BuildInformationPushResult says what a push of build information did:
// Created, Overwritten or Ignored (the old one kept).
type BuildInformationPushResult struct {
	BuildInformation model.BuildInformation `json:"buildInformation"`
	Outcome          string                 `json:"outcome"`
}
