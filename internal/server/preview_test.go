package server_test

import (
	"context"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// The preview takes the release's channel into account, as a deployment
// does: a channel-scoped value shows only for that channel.
func TestVariablePreviewByChannel(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	p, err := s.client.CreateProject(ctx, model.Project{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	hotfix, err := s.client.CreateChannel(ctx, model.Channel{ProjectID: p.ID, Name: "Hotfix"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
		{Name: "Mode", Value: "normal"},
		{Name: "Mode", Value: "careful", Scope: model.Scope{Channels: []string{hotfix.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	mode := func(channel string) string {
		t.Helper()
		vs, err := s.client.PreviewVariables(ctx, p.ID, "", "", "", channel)
		if err != nil {
			t.Fatalf("preview for channel %q: %v", channel, err)
		}
		for _, v := range vs {
			if v.Name == "Mode" {
				return v.Value
			}
		}
		return ""
	}
	for channel, want := range map[string]string{"": "normal", "hotfix": "careful", hotfix.ID: "careful"} {
		if got := mode(channel); got != want {
			t.Errorf("channel %q: Mode is %q, want %q", channel, got, want)
		}
	}
	status, eb, raw := s.call(t, "GET", "/api/v1/projects/"+p.ID+"/variables/preview?channelId=Beta", "", nil)
	if status != 400 || eb.Error != `channelId: project shop has no channel "Beta"` {
		t.Errorf("an unknown channel: %d %s", status, raw)
	}
}
