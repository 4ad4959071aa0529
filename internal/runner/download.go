package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Download is where a target fetches a package from an external feed
// itself. Header holds the feed's credentials: it is never printed.
type Download struct {
	URL    string            `json:"url"`
	Header map[string]string `json:"header,omitempty"`
	// CacheRoot and KeepSeconds are read from manifests written before the
	// manifest's PackageCache, which replaces them: they bounded the cache
	// of downloads only.
	CacheRoot   string `json:"cacheRoot,omitempty"`
	KeepSeconds int64  `json:"keepSeconds,omitempty"`
}

// downloadClient fetches packages; a stalled feed fails rather than hangs.
func downloadClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 30 * time.Second, ResponseHeaderTimeout: 2 * time.Minute,
	}}
}

// ensurePackage downloads the package into p.Path when it is not there yet
// and p says where from. The file appears whole or not at all: it is
// written beside its place and renamed, so a broken download leaves
// nothing a later run could take for the package.
func ensurePackage(ctx context.Context, p PackageFile, out *output) error {
	if p.Download == nil {
		return nil
	}
	if _, err := os.Stat(p.Path); err == nil {
		out.Infof("Package %s %s is on this machine already", p.ID, p.Version)
		return nil
	}
	host := p.Download.URL
	if u, err := url.Parse(p.Download.URL); err == nil {
		host = u.Host
	}
	out.Infof("Downloading package %s %s from %s", p.ID, p.Version, host)
	header := http.Header{}
	for k, v := range p.Download.Header {
		header.Set(k, v)
	}
	n, _, err := DownloadFile(ctx, downloadClient(), p.Download.URL, header, p.Path)
	if err != nil {
		return fmt.Errorf("download %s %s from %s: %w", p.ID, p.Version, host, err)
	}
	out.Infof("Downloaded %s", humanBytes(n))
	return nil
}

// DownloadFile fetches url into dest, whole or not at all: it is written
// beside dest, checked against the length the server announced, synced and
// renamed, so a cut download leaves nothing a later run could take for the
// file. It returns the size and the SHA-256 (hex). The server's feed cache
// and targets' downloads both use it.
func DownloadFile(ctx context.Context, hc *http.Client, url string, header http.Header, dest string) (int64, string, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header = header.Clone()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", scrubURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, "", fmt.Errorf("the feed answered %s", resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".download-*")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("received %d bytes of %d", n, resp.ContentLength)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, "", err
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// scrubURLError drops the URL from an HTTP client error: a feed may carry
// a token in its query.
func scrubURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// FetchManifest is what `pulpo fetch-packages MANIFEST` reads: the packages
// a script refers to, to be downloaded (when the target acquires them)
// and extracted (when the script asked) before the script runs.
type FetchManifest struct {
	Packages []FetchPackage `json:"packages"`
	// PackageCache is swept once the packages are there.
	PackageCache *PackageCache `json:"packageCache,omitempty"`
}

// FetchPackage is one package of a FetchManifest.
type FetchPackage struct {
	Package PackageFile `json:"package"`
	// ExtractTo, when given, is a folder that does not exist yet, relative
	// to the working folder: the package is extracted there.
	ExtractTo string `json:"extractTo,omitempty"`
}

// Fetch downloads and extracts the packages of a FetchManifest.
func Fetch(ctx context.Context, m FetchManifest, opts Options, stdout, stderr io.Writer) error {
	out := newOutput(stdout, stderr)
	opts = opts.withDefaults()
	var problems []string
	m.PackageCache.problems(func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) })
	if len(problems) > 0 {
		return fmt.Errorf("invalid manifest: %s", strings.Join(problems, "; "))
	}
	var pkgs []PackageFile
	for _, p := range m.Packages {
		if !filepath.IsAbs(p.Package.Path) {
			return fmt.Errorf("package %s: path %q must be absolute", p.Package.ID, p.Package.Path)
		}
		if err := ensurePackage(ctx, p.Package, out); err != nil {
			return err
		}
		pkgs = append(pkgs, p.Package)
	}
	usePackages(cacheFor(m.PackageCache, pkgs...), pkgs, out)
	for _, p := range m.Packages {
		if p.ExtractTo == "" && p.Package.Download == nil {
			// The server sent it and the script reads it itself; it is
			// here only to be renewed, and reading it would cost a hash.
			continue
		}
		if p.Package.SHA256 != "" {
			if err := checkSHA256(p.Package.Path, p.Package.SHA256); err != nil {
				return err
			}
		}
		if p.ExtractTo == "" {
			continue
		}
		if filepath.IsAbs(p.ExtractTo) || strings.HasPrefix(filepath.Clean(p.ExtractTo), "..") {
			return fmt.Errorf("package %s: extractTo %q must be a folder under the working folder", p.Package.ID, p.ExtractTo)
		}
		files, size, err := Extract(ctx, p.Package.Path, p.ExtractTo, opts)
		if err != nil {
			return fmt.Errorf("extract %s %s: %w", p.Package.ID, p.Package.Version, err)
		}
		out.Infof("Extracted %s %s into %s: %d entries (%s)", p.Package.ID, p.Package.Version, p.ExtractTo, files, humanBytes(size))
	}
	return nil
}

// MainFetch runs `pulpo fetch-packages MANIFEST.json`.
func MainFetch(args []string, version string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: pulpo fetch-packages MANIFEST.json")
		return exitUsage
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "fetch-packages: %v\n", err)
		return exitUsage
	}
	var m FetchManifest
	if err := json.Unmarshal(b, &m); err != nil {
		fmt.Fprintf(stderr, "fetch-packages: read manifest: %v\n", err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()
	if err := Fetch(ctx, m, Options{Version: version}, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "Fetching the step's packages failed: %v\n", err)
		return exitFailed
	}
	return exitOK
}
