package octoapi

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestSlugsAreOctopusStyle(t *testing.T) {
	for name, want := range map[string]string{
		"Web App":               "web-app",
		"  Shop -- Frontend! ":  "shop-frontend",
		"API v2.1":              "api-v2-1",
		"Default Project Group": "default-project-group",
	} {
		if got := slug(name); got != want {
			t.Errorf("slug(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestListParametersComeCommaSeparatedOrRepeated(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/Spaces-1/environments?ids=Environments-1%2CEnvironments-2&ids=Environments-3&ids=", nil)
	if got, want := queryList(r.URL.Query(), "ids"), []string{"Environments-1", "Environments-2", "Environments-3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestTaskIDsInBothForms(t *testing.T) {
	cases := []struct{ pulpo, octopus string }{{"Tasks-7", "ServerTasks-7"}, {"Tasks-120", "ServerTasks-120"}}
	for _, c := range cases {
		if got := serverTaskID(c.pulpo); got != c.octopus {
			t.Errorf("serverTaskID(%q) = %q", c.pulpo, got)
		}
		if got := pulpoTaskID(c.octopus); got != c.pulpo {
			t.Errorf("pulpoTaskID(%q) = %q", c.octopus, got)
		}
		if got := pulpoTaskID(c.pulpo); got != c.pulpo {
			t.Errorf("pulpoTaskID(%q) = %q: Pulpo's own form must pass unchanged", c.pulpo, got)
		}
	}
}

// Octopus's client follows Page.Next until it is missing, and resolves it
// against different bases, so every page but the last links the next one
// by an absolute path that keeps the request's filters.
func TestPagesLinkTheNextOneUntilTheLast(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	cases := []struct {
		query    string
		want     []int
		next     string
		pages    int
		lastPage int
	}{
		{"take=2&partialName=x", []int{1, 2}, "/api/Spaces-1/things?partialName=x&skip=2&take=2", 3, 2},
		{"skip=2&take=2&partialName=x", []int{3, 4}, "/api/Spaces-1/things?partialName=x&skip=4&take=2", 3, 2},
		{"skip=4&take=2&partialName=x", []int{5}, "", 3, 2},
		{"", items, "", 1, 0},
		{"skip=9", []int{}, "", 1, 0},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/Spaces-1/things?"+c.query, nil)
		p, err := pagingOf(r)
		if err != nil {
			t.Fatal(err)
		}
		page := pageItems(r, "Thing", items, len(items), p, false)
		if !reflect.DeepEqual(page.Items, c.want) || page.TotalResults != 5 || page.NumberOfPages != c.pages || page.LastPageNumber != c.lastPage {
			t.Errorf("%q: items %v, total %d, pages %d, last %d", c.query, page.Items, page.TotalResults, page.NumberOfPages, page.LastPageNumber)
		}
		if got := page.Links["Page.Next"]; got != c.next {
			t.Errorf("%q: Page.Next %q, want %q", c.query, got, c.next)
		}
	}
}

func TestDateTimesAsOctopusClientsSendThem(t *testing.T) {
	for _, s := range []string{"2025-05-01T10:00:00+00:00", "2025-05-01T10:00:00Z", "2025-05-01T12:00:00.123+02:00", "2025-05-01 10:00"} {
		if _, err := octopusTime("runAt", s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if got, err := octopusTime("runAt", ""); got != nil || err != nil {
		t.Errorf("an empty time is none: %v %v", got, err)
	}
	if _, err := octopusTime("runAt", "tomorrow"); err == nil {
		t.Error("tomorrow was taken as a time")
	}
}

func TestPackageSpecsNameStepsReferencesAndPackages(t *testing.T) {
	cases := []struct{ spec, key, version, err string }{
		{"web:1.4.0", "web", "1.4.0", ""},
		{"Run container:img:1.27", "Run container:img", "1.27", ""},
		{"Deploy::2.0.0", "Deploy", "2.0.0", ""},
		{"web", "", "", "write it as StepOrPackageId:Version"},
		{"a:b:c:d", "", "", "write it as StepOrPackageId:Version"},
		{"web:", "", "", "write it as StepOrPackageId:Version"},
	}
	for _, c := range cases {
		key, version, err := packageSpec(c.spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: want an error containing %q, got %v", c.spec, c.err, err)
			}
			continue
		}
		if err != nil || key != c.key || version != c.version {
			t.Errorf("%q: got %q %q %v, want %q %q", c.spec, key, version, err, c.key, c.version)
		}
	}
}
