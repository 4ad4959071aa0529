package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"path"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// referencedPackages makes the packages a script step refers to available
// on the target and gives the script their Octopus.Action.Package[NAME].*
// values: PackageId, PackageVersion, FeedId, and Image (a container image's
// reference), OriginalPath (the file on the target) or ExtractedPath (the
// folder it was unpacked into, in the script's workspace). It returns the
// shell lines that download and extract what the target must fetch itself
// before the script's own lines run; empty when there is nothing to fetch.
func (h deployHandler) referencedPackages(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement, values *vars.Values, ticket string) (string, error) {
	var fetch runner.FetchManifest
	var runnerWord string
	for _, sp := range step.Packages() {
		if sp.Reference == "" {
			continue
		}
		a, err := h.acquire(ctx, run, x, step, sp, p, false)
		if err != nil {
			return "", err
		}
		set := func(field, value string) {
			values.Set(fmt.Sprintf("Octopus.Action.Package[%s].%s", sp.Reference, field), value)
		}
		set("PackageId", a.chosen.PackageID)
		set("PackageVersion", a.chosen.Version)
		feedID := a.chosen.FeedID
		if feedID == "" {
			feedID = model.BuiltInFeedID
		}
		set("FeedId", feedID)
		if a.image != "" {
			set("Image", a.image)
			run.Logf(p.act.ID, model.LevelVerbose, "Package %s is image %s", sp.Reference, a.image)
			continue
		}
		if a.file.Path == "" { // acquired by nobody
			continue
		}
		set("OriginalPath", a.file.Path)
		cache := h.e.packageCache(a.caps.Home)
		if a.download == nil && !sp.Extract && cache == nil {
			continue
		}
		// A package the server sent and the script reads itself is listed
		// too while the target's cache is swept: the runner renews its time
		// and sweeps the cache, which script steps would otherwise never do.
		fetch.PackageCache = cache
		fp := runner.FetchPackage{Package: a.packageFile()}
		if sp.Extract {
			// The script runs in its workspace, HOME/work/TICKET.
			fp.ExtractTo = sp.Reference
			set("ExtractedPath", path.Join(a.caps.Home, "work", ticket, sp.Reference))
		}
		fetch.Packages = append(fetch.Packages, fp)
		if runnerWord == "" {
			if runnerWord, err = h.runnerFor(ctx, run, p, a.caps); err != nil {
				return "", err
			}
		}
	}
	if len(fetch.Packages) == 0 {
		return "", nil
	}
	b, err := json.Marshal(fetch)
	if err != nil {
		return "", err
	}
	// The manifest (with the feeds' credentials) lives in the workspace
	// only while the packages are fetched.
	return "cat > .pulpo-fetch.json <<'PULPO_FETCH_END'\n" + string(b) + "\nPULPO_FETCH_END\n" +
		"r=" + runnerWord + "\n[ -x \"$r\" ] || chmod 0755 \"$r\"\n" +
		"\"$r\" fetch-packages .pulpo-fetch.json || { rc=$?; rm -f .pulpo-fetch.json; exit $rc; }\n" +
		"rm -f .pulpo-fetch.json\n", nil
}
