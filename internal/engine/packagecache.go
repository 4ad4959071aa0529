package engine

import (
	"path"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/runner"
)

// packageCache is the target's package cache, HOME/packages, as the runner
// sweeps it once a step has its packages: whatever no step used for
// FeedCacheMaxAge goes (packages the server sent, the target's own
// downloads, abandoned partial uploads), except the packages of
// installations the journal still keeps. Nil (FeedCacheMaxAge 0) keeps
// everything.
func (e *Engine) packageCache(home string) *runner.PackageCache {
	keep := int64(e.cfg.FeedCacheMaxAge / time.Second)
	if keep <= 0 {
		return nil
	}
	return &runner.PackageCache{Root: path.Join(home, "packages"), KeepSeconds: keep, Journal: path.Join(home, "journal.json"),
		Runners: path.Join(home, "runners")}
}
