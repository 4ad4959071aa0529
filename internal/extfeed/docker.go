package extfeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// docker reads a Docker/OCI registry through go-containerregistry, which
// does the registry's token or basic authentication.
type docker struct {
	*base
	host string // host[:port] as the registry is named in references
	hub  bool   // Docker Hub, whose images are named without a host
	opts []name.Option
	auth authn.Authenticator
	rt   http.RoundTripper
}

// Docker Hub's names: a feed at any of them is Docker Hub.
var dockerHubHosts = []string{"index.docker.io", "registry-1.docker.io", "docker.io", "registry.hub.docker.com", "hub.docker.com"}

func newDocker(b *base) (*docker, error) {
	u, err := url.Parse(b.feed.URL)
	if err != nil || u.Host == "" {
		return nil, b.errorf("%q is not a registry URL", b.feed.URL)
	}
	d := &docker{base: b, host: u.Host, auth: authn.Anonymous, rt: b.hc.Transport}
	if d.rt == nil {
		d.rt = http.DefaultTransport
	}
	d.rt = boundedTransport{d.rt}
	for _, h := range dockerHubHosts {
		if strings.EqualFold(u.Hostname(), h) {
			d.hub, d.host = true, name.DefaultRegistry
		}
	}
	if u.Scheme == "http" {
		d.opts = append(d.opts, name.Insecure)
	}
	if b.feed.Username != "" || b.password != "" {
		d.auth = &authn.Basic{Username: b.feed.Username, Password: b.password}
	}
	return d, nil
}

func (d *docker) registry() (name.Registry, error) {
	reg, err := name.NewRegistry(d.host, d.opts...)
	if err != nil {
		return reg, d.errorf("%q is not a registry: %v", d.host, err)
	}
	return reg, nil
}

// repository names the image packageID in this registry.
func (d *docker) repository(packageID string) (name.Repository, error) {
	ref := packageID
	if !d.hub {
		ref = d.host + "/" + packageID
	}
	repo, err := name.NewRepository(ref, d.opts...)
	if err != nil {
		return repo, d.errorf("%q is not an image name: use lower-case path parts such as team/app (no host, no tag)", packageID)
	}
	return repo, nil
}

func (d *docker) remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(d.auth), remote.WithTransport(d.rt), remote.WithUserAgent("Pulpo"),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1})}
}

// explain turns the registry client's error into one saying what to fix;
// what is the action that failed, such as "list the tags of team/web".
func (d *docker) explain(what string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusTooManyRequests:
			return d.statusError("GET", "", te.StatusCode, "")
		case http.StatusForbidden:
			return d.errorf("%d %s: the feed's credentials are not allowed to %s", te.StatusCode, http.StatusText(te.StatusCode), what)
		case http.StatusNotFound:
			return d.notFound("%s: not in the registry", what)
		}
		return d.errorf("%s: %v", what, te)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return d.errorf("%s: the registry did not answer in time", what)
	}
	return d.errorf("%s: %v", what, unwrapURLError(err))
}

func (d *docker) Test(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	reg, err := d.registry()
	if err != nil {
		return err
	}
	// The transport pings the registry and learns its authentication;
	// a GET of /v2/ through it then proves the credentials.
	rt, err := transport.NewWithContext(ctx, reg, d.auth, d.rt, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return d.explain("reach the registry", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return d.errorf("%v", err)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return d.explain("reach the registry", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d.statusError("GET", "/v2/", resp.StatusCode, "")
	}
	return nil
}

func (d *docker) Search(ctx context.Context, term string, limit int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if d.hub {
		return nil, d.errorf("Docker Hub does not list its repositories: give the image's full name, such as library/nginx or bitnami/redis")
	}
	reg, err := d.registry()
	if err != nil {
		return nil, err
	}
	repos, err := remote.Catalog(ctx, reg, d.remoteOpts(ctx)...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusMethodNotAllowed ||
			(te.StatusCode == http.StatusUnauthorized && (d.feed.Username != "" || d.password != "") && d.Test(ctx) == nil)) {
			return nil, d.errorf("the registry does not list its repositories (its catalog is off or not allowed to these credentials): give the image's full name")
		}
		return nil, d.explain("list the registry's repositories", err)
	}
	var out []string
	for _, r := range repos {
		if matches(r, term) {
			out = append(out, r)
		}
	}
	return limitTo(out, limit), nil
}

func (d *docker) Versions(ctx context.Context, packageID string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	repo, err := d.repository(packageID)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(repo, d.remoteOpts(ctx)...)
	if err != nil {
		return nil, d.explain("list the tags of "+packageID, err)
	}
	return limitTo(SortVersions(tags), maxVersions), nil
}

func (d *docker) Locate(ctx context.Context, packageID, version string) (Location, error) {
	repo, err := d.repository(packageID)
	if err != nil {
		return Location{}, err
	}
	tag, err := name.NewTag(repo.String()+":"+version, d.opts...)
	if err != nil {
		return Location{}, d.errorf("%q is not a tag: letters, digits, '_', '.' and '-', at most 128", version)
	}
	return Location{Image: d.reference(tag)}, nil
}

// reference is how a step's tools name the image: host[:port]/repo:tag,
// and for Docker Hub the familiar form (nginx:1.25, bitnami/redis:7).
func (d *docker) reference(tag name.Tag) string {
	if !d.hub {
		return fmt.Sprintf("%s/%s:%s", d.host, tag.RepositoryStr(), tag.TagStr())
	}
	return fmt.Sprintf("%s:%s", strings.TrimPrefix(tag.RepositoryStr(), "library/"), tag.TagStr())
}

// boundedTransport caps every response body the registry client reads
// (tag lists, catalogs, tokens): a hostile registry must not exhaust
// memory. Feeds read no blobs.
type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.Body != nil {
		resp.Body = &boundedBody{ReadCloser: resp.Body, left: maxDocument}
	}
	return resp, err
}

type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("the registry's answer is larger than the %d MB Pulpo reads", maxDocument>>20)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
