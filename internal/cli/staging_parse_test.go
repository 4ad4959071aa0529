package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func TestParseStagingChange(t *testing.T) {
	for _, tc := range []struct {
		name                string
		set, unset, reset   []string
		wantSet             map[string]string
		wantUnset, wantRset []string
		wantErr             string
	}{
		{name: "nothing"},
		{name: "keys as given", set: []string{"app.tag=ab12cd", "deployment.replicas=2", "debug=true"},
			wantSet: map[string]string{"app.tag": "ab12cd", "deployment.replicas": "2", "debug": "true"}},
		{name: "value with = and spaces", set: []string{"app.opts=--x=1 --y=2", "app.empty="},
			wantSet: map[string]string{"app.opts": "--x=1 --y=2", "app.empty": ""}},
		{name: "the last wins", set: []string{"app.tag=one", "app.tag=two"}, wantSet: map[string]string{"app.tag": "two"}},
		{name: "the last wins whatever the spelling", set: []string{"app.tag=one", "tag=two"}, wantSet: map[string]string{"tag": "two"}},
		{name: "unset and reset", unset: []string{"app.debug", "deployment.cpu", "app.debug"}, reset: []string{"replicas"},
			wantUnset: []string{"app.debug", "deployment.cpu"}, wantRset: []string{"replicas"}},
		{name: "no =", set: []string{"app.tag"}, wantErr: `--set takes KEY=VALUE, not "app.tag"`},
		{name: "empty key", set: []string{"=x"}, wantErr: "the key is empty"},
		{name: "bad key", set: []string{"app.a b=1"}, wantErr: "is not a configuration key"},
		{name: "level only", unset: []string{"deployment."}, wantErr: "is not a configuration key"},
		{name: "set and unset", set: []string{"tag=1"}, unset: []string{"app.tag"}, wantErr: "--unset app.tag: --set tag sets it too"},
		{name: "set and reset", set: []string{"deployment.replicas=2"}, reset: []string{"deployment.replicas"}, wantErr: "--reset deployment.replicas: --set deployment.replicas sets it too"},
		{name: "unset and reset", unset: []string{"app.x"}, reset: []string{"x"}, wantErr: "--reset x: --unset names it too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, unset, reset, err := parseStagingChange(tc.set, tc.unset, tc.reset)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(set, tc.wantSet) || !reflect.DeepEqual(unset, tc.wantUnset) || !reflect.DeepEqual(reset, tc.wantRset) {
				t.Errorf("got set %v unset %v reset %v", set, unset, reset)
			}
		})
	}
}

func TestParseKeepUntil(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	local := time.Date(2026, 12, 31, 18, 30, 0, 0, time.Local).Format(time.RFC3339)
	for _, tc := range []struct{ in, want, wantErr string }{
		{in: "", want: ""},
		{in: "  ", want: ""},
		{in: "never", want: "never"},
		{in: "NEVER", want: "never"},
		{in: "72h", want: "72h0m0s"},
		{in: "90m", want: "1h30m0s"},
		{in: "7d", want: "168h0m0s"},
		{in: "1d12h", want: "36h0m0s"},
		{in: "2026-12-31", want: "2026-12-31"},
		{in: "2026-12-31T10:00:00Z", want: "2026-12-31T10:00:00Z"},
		{in: "2026-12-31T10:00:00+02:00", want: "2026-12-31T10:00:00+02:00"},
		{in: "2026-12-31 18:30", want: local},
		{in: "0s", wantErr: "longer than nothing"},
		{in: "-5h", wantErr: "longer than nothing"},
		{in: "0d", wantErr: "longer than nothing"},
		{in: "1d-5h", wantErr: "is not a time"},
		{in: "2020-01-01", wantErr: "is in the past"},
		{in: "tomorrow", wantErr: `--keep-until "tomorrow" is not a time: give a duration such as 72h or 7d`},
		{in: "2026-13-01", wantErr: "is not a time"},
		{in: "72", wantErr: "is not a time"},
	} {
		got, err := parseKeepUntil("--keep-until", tc.in, now)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestPickStagingAction(t *testing.T) {
	// The API's history: newest first.
	actions := []model.StagingActionRecord{
		{Action: model.StagingUpdate, TaskID: "Tasks-4"},
		{Action: model.StagingRestore, TaskID: "Tasks-3"},
		{Action: model.StagingArchive, TaskID: "Tasks-2"},
		{Action: model.StagingCreate, TaskID: "Tasks-1"},
	}
	for _, tc := range []struct {
		action, task string
		wantN        int
		wantTask     string
		wantErr      string
	}{
		{wantN: 4, wantTask: "Tasks-4"},
		{action: "1", wantN: 1, wantTask: "Tasks-1"},
		{action: "3", wantN: 3, wantTask: "Tasks-3"},
		{action: "create", wantN: 1, wantTask: "Tasks-1"},
		{action: "Archive", wantN: 2, wantTask: "Tasks-2"},
		{task: "tasks-3", wantN: 3, wantTask: "Tasks-3"},
		{action: "5", wantErr: "numbered 1 to 4"},
		{action: "0", wantErr: "numbered 1 to 4"},
		{action: "cleanup", wantErr: "no cleanup action"},
		{action: "deploy", wantErr: "neither a number nor"},
		{task: "Tasks-9", wantErr: "none of its actions"},
	} {
		n, rec, err := pickStagingAction(actions, tc.action, tc.task)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q/%q: error %v, want %q", tc.action, tc.task, err, tc.wantErr)
			}
			continue
		}
		if err != nil || n != tc.wantN || rec.TaskID != tc.wantTask {
			t.Errorf("%q/%q: got %d %s %v", tc.action, tc.task, n, rec.TaskID, err)
		}
	}
	if _, _, err := pickStagingAction(nil, "", ""); err == nil {
		t.Error("an empty history gave an action")
	}
}

const templateYAML = `# The control scripts of the web project's stagings.
scripts:
  create: |
    echo "create $NAME"
  update: |
    echo "update $NAME"
  archive: echo archive
  cleanup: echo cleanup
  archiveCheck: "true"
arguments: octopod
baseDomain: staging.example.com
defaults:
  app:
    tag: latest
    debug: false
    ratio: 0.5
    empty:
  deployment:
    replicas: 2
sensitiveKeys: [app.password]
idleExpiry: 72h
archiveRetention: 1209600
scriptTimeout: 10m
tagKey: app.tag
version: 3
`

func TestStagingTemplateFilesRoundTrip(t *testing.T) {
	tmpl, err := parseStagingTemplate([]byte(templateYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := model.StagingTemplate{
		Scripts:   model.StagingScripts{Create: "echo \"create $NAME\"\n", Update: "echo \"update $NAME\"\n", Archive: "echo archive", Cleanup: "echo cleanup", ArchiveCheck: "true"},
		Arguments: model.ArgumentsOctopod, BaseDomain: "staging.example.com",
		Defaults:      model.StagingConfig{App: map[string]string{"tag": "latest", "debug": "false", "ratio": "0.5", "empty": ""}, Deployment: map[string]string{"replicas": "2"}},
		SensitiveKeys: []string{"app.password"}, IdleExpiry: model.Duration{D: 72 * time.Hour}, ArchiveRetention: model.Duration{D: 14 * 24 * time.Hour},
		ScriptTimeout: model.Duration{D: 10 * time.Minute}, TagKey: "app.tag", Version: 3,
	}
	if !reflect.DeepEqual(tmpl, want) {
		t.Fatalf("parsed\n%+v\nwant\n%+v", tmpl, want)
	}

	// What get prints, set reads back the same.
	out, err := stagingTemplateYAML(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"scripts:\n  create: |\n    echo \"create $NAME\"\n", "  archiveCheck: \"true\"\n", "idleExpiry: 72h0m0s\n", "    replicas: \"2\"\n", "version: 3\n"} {
		if !strings.Contains(string(out), line) {
			t.Errorf("the YAML lacks %q:\n%s", line, out)
		}
	}
	back, err := parseStagingTemplate(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, tmpl) {
		t.Errorf("read back\n%+v\nwrote\n%+v", back, tmpl)
	}

	// JSON is YAML too.
	if j, err := parseStagingTemplate([]byte(`{"scripts": {"create": "a", "update": "b", "archive": "c", "cleanup": "d"}, "idleExpiry": "1h", "version": 0}`)); err != nil ||
		j.Scripts.Cleanup != "d" || j.IdleExpiry.D != time.Hour {
		t.Errorf("JSON: %+v %v", j, err)
	}

	for _, tc := range []struct{ doc, wantErr string }{
		{"", "empty"},
		{"- a\n- b\n", "mapping of fields"},
		{"idle_expiry: 72h\n", `unknown field "idle_expiry"`},
		{"scripts:\n  craete: x\n", `unknown field "craete"`},
		{"idleExpiry: soon\n", `"soon" is not a duration`},
		{"sensitiveKeys: app.password\n", "sensitiveKeys"},
		{"defaults:\n  app:\n    tag: 1\n  app:\n    tag: 2\n", "defaults.app is given twice"},
		{"scripts: [\n", "yaml:"},
	} {
		if _, err := parseStagingTemplate([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want %q", tc.doc, err, tc.wantErr)
		}
	}
}
