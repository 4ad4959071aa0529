// Package client is the Go client of Pulpo's REST API, used by the CLI
// and the tests.
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Client talks to one server with one API key.
type Client struct {
	base string
	key  string
	http *http.Client
}

// New returns a client of the server at serverURL (e.g. http://localhost:8080).
func New(serverURL, apiKey string) (*Client, error) {
	return NewWithOptions(serverURL, apiKey, Options{})
}

// Options tune how the client reaches the server.
type Options struct {
	// Thumbprint pins the server's HTTPS certificate by its SHA-256
	// thumbprint, for self-signed certificates; system roots otherwise.
	Thumbprint string
}

// NewWithOptions returns a client of the server at serverURL.
func NewWithOptions(serverURL, apiKey string, opts Options) (*Client, error) {
	c, err := newClient(serverURL, apiKey)
	if err != nil || opts.Thumbprint == "" {
		return c, err
	}
	want, err := comms.NormalizeThumbprint(opts.Thumbprint)
	if err != nil {
		return nil, fmt.Errorf("server thumbprint: %w", err)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{
		// The pin replaces the chain check: only the certificate with this
		// exact thumbprint is accepted.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || comms.Thumbprint(raw[0]) != want {
				return fmt.Errorf("the server's HTTPS certificate does not have the pinned thumbprint %s", want)
			}
			return nil
		},
	}
	c.http.Transport = t
	return c, nil
}

func newClient(serverURL, apiKey string) (*Client, error) {
	if serverURL == "" {
		return nil, errors.New("no server given: use --server or set PULPO_SERVER, e.g. http://localhost:8080")
	}
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q is not a URL like http://localhost:8080", serverURL)
	}
	return &Client{base: strings.TrimSuffix(serverURL, "/") + "/api/v1", key: apiKey,
		http: &http.Client{Timeout: 0}}, nil
}

// Error is an error answer from the server.
type Error struct {
	Status  int
	Message string
	Details []string
}

func (e *Error) Error() string {
	msg := e.Message
	if len(e.Details) > 0 {
		msg += ": " + strings.Join(e.Details, "; ")
	}
	return msg
}

// IsNotFound reports whether err is the server saying 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	return req, nil
}

// do sends a request and decodes the JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	// Requests are bounded unless the caller set its own deadline.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Pulpo server at %s: %w", strings.TrimSuffix(c.base, "/api/v1"), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return readError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body wire.ErrorBody
	if json.Unmarshal(b, &body) != nil || body.Error == "" {
		body.Error = fmt.Sprintf("the server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return &Error{Status: resp.StatusCode, Message: body.Error, Details: body.Details}
}

// ListOptions pages and filters lists.
type ListOptions struct {
	Skip, Take  int
	Name        string
	PartialName string
	// Filters are further query parameters (projectId, state, …).
	Filters map[string]string
}

func (o ListOptions) query() string {
	v := url.Values{}
	if o.Skip > 0 {
		v.Set("skip", strconv.Itoa(o.Skip))
	}
	if o.Take > 0 {
		v.Set("take", strconv.Itoa(o.Take))
	}
	if o.Name != "" {
		v.Set("name", o.Name)
	}
	if o.PartialName != "" {
		v.Set("partialName", o.PartialName)
	}
	for k, val := range o.Filters {
		if val != "" {
			v.Set(k, val)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// list reads one page.
func list[T any](ctx context.Context, c *Client, path string, o ListOptions) (wire.Page[T], error) {
	var p wire.Page[T]
	err := c.do(ctx, "GET", path+o.query(), nil, &p)
	return p, err
}

// all reads every page.
func all[T any](ctx context.Context, c *Client, path string, o ListOptions) ([]T, error) {
	var out []T
	o.Take = 1000
	for {
		p, err := list[T](ctx, c, path, o)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		o.Skip += len(p.Items)
		if len(p.Items) == 0 || o.Skip >= p.Total {
			return out, nil
		}
	}
}

// find reads an object by id, or failing that by exact name.
func find[T any](ctx context.Context, c *Client, path, kind, idOrName string) (T, error) {
	var v T
	if idOrName == "" {
		return v, fmt.Errorf("no %s given", kind)
	}
	err := c.do(ctx, "GET", path+"/"+url.PathEscape(idOrName), nil, &v)
	if !IsNotFound(err) {
		return v, err
	}
	p, err := list[T](ctx, c, path, ListOptions{Name: idOrName, Take: 1})
	if err != nil {
		return v, err
	}
	if len(p.Items) == 0 {
		return v, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("%s %q was not found (or your roles hide it from you)", kind, idOrName)}
	}
	return p.Items[0], nil
}

// Root describes the server.
func (c *Client) Root(ctx context.Context) (wire.Root, error) {
	var r wire.Root
	return r, c.do(ctx, "GET", "", nil, &r)
}

// Me returns the user the API key belongs to.
func (c *Client) Me(ctx context.Context) (model.User, error) {
	var u model.User
	return u, c.do(ctx, "GET", "/users/me", nil, &u)
}

// Environments lists every environment in order.
func (c *Client) Environments(ctx context.Context) ([]model.Environment, error) {
	return all[model.Environment](ctx, c, "/environments", ListOptions{})
}

// FindEnvironment reads an environment by id or name.
func (c *Client) FindEnvironment(ctx context.Context, idOrName string) (model.Environment, error) {
	return find[model.Environment](ctx, c, "/environments", "environment", idOrName)
}

// CreateEnvironment creates an environment.
func (c *Client) CreateEnvironment(ctx context.Context, e model.Environment) (model.Environment, error) {
	return e, c.do(ctx, "POST", "/environments", e, &e)
}

// UpdateEnvironment replaces an environment.
func (c *Client) UpdateEnvironment(ctx context.Context, e model.Environment) (model.Environment, error) {
	return e, c.do(ctx, "PUT", "/environments/"+url.PathEscape(e.ID), e, &e)
}

// DeleteEnvironment deletes an environment.
func (c *Client) DeleteEnvironment(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/environments/"+url.PathEscape(id), nil, nil)
}

// Lifecycles lists every lifecycle.
func (c *Client) Lifecycles(ctx context.Context) ([]model.Lifecycle, error) {
	return all[model.Lifecycle](ctx, c, "/lifecycles", ListOptions{})
}

// FindLifecycle reads a lifecycle by id or name.
func (c *Client) FindLifecycle(ctx context.Context, idOrName string) (model.Lifecycle, error) {
	return find[model.Lifecycle](ctx, c, "/lifecycles", "lifecycle", idOrName)
}

// CreateLifecycle creates a lifecycle.
func (c *Client) CreateLifecycle(ctx context.Context, l model.Lifecycle) (model.Lifecycle, error) {
	return l, c.do(ctx, "POST", "/lifecycles", l, &l)
}

// UpdateLifecycle replaces a lifecycle.
func (c *Client) UpdateLifecycle(ctx context.Context, l model.Lifecycle) (model.Lifecycle, error) {
	return l, c.do(ctx, "PUT", "/lifecycles/"+url.PathEscape(l.ID), l, &l)
}

// DeleteLifecycle deletes a lifecycle.
func (c *Client) DeleteLifecycle(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/lifecycles/"+url.PathEscape(id), nil, nil)
}

// FindProjectGroup reads a project group by id or name.
func (c *Client) FindProjectGroup(ctx context.Context, idOrName string) (model.ProjectGroup, error) {
	return find[model.ProjectGroup](ctx, c, "/projectgroups", "project group", idOrName)
}

// ProjectGroups lists every project group.
func (c *Client) ProjectGroups(ctx context.Context) ([]model.ProjectGroup, error) {
	return all[model.ProjectGroup](ctx, c, "/projectgroups", ListOptions{})
}

// CreateProjectGroup creates a project group.
func (c *Client) CreateProjectGroup(ctx context.Context, g model.ProjectGroup) (model.ProjectGroup, error) {
	return g, c.do(ctx, "POST", "/projectgroups", g, &g)
}

// Projects lists projects.
func (c *Client) Projects(ctx context.Context, o ListOptions) ([]model.Project, error) {
	return all[model.Project](ctx, c, "/projects", o)
}

// ProjectPage reads one page of projects.
func (c *Client) ProjectPage(ctx context.Context, o ListOptions) (wire.Page[model.Project], error) {
	return list[model.Project](ctx, c, "/projects", o)
}

// FindProject reads a project by id or name.
func (c *Client) FindProject(ctx context.Context, idOrName string) (model.Project, error) {
	return find[model.Project](ctx, c, "/projects", "project", idOrName)
}

// CreateProject creates a project.
func (c *Client) CreateProject(ctx context.Context, p model.Project) (model.Project, error) {
	return p, c.do(ctx, "POST", "/projects", p, &p)
}

// UpdateProject replaces a project's own fields.
func (c *Client) UpdateProject(ctx context.Context, p model.Project) (model.Project, error) {
	return p, c.do(ctx, "PUT", "/projects/"+url.PathEscape(p.ID), p, &p)
}

// DeleteProject deletes a project with its releases.
func (c *Client) DeleteProject(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/projects/"+url.PathEscape(id), nil, nil)
}

// Process reads a project's deployment process.
func (c *Client) Process(ctx context.Context, projectID string) (model.DeploymentProcess, error) {
	var d model.DeploymentProcess
	return d, c.do(ctx, "GET", "/projects/"+url.PathEscape(projectID)+"/process", nil, &d)
}

// SaveProcess replaces a project's deployment process.
func (c *Client) SaveProcess(ctx context.Context, d model.DeploymentProcess) (model.DeploymentProcess, error) {
	return d, c.do(ctx, "PUT", "/projects/"+url.PathEscape(d.ProjectID)+"/process", d, &d)
}

// Variables reads a project's variables.
func (c *Client) Variables(ctx context.Context, projectID string) (model.VariableSet, error) {
	var vs model.VariableSet
	return vs, c.do(ctx, "GET", "/projects/"+url.PathEscape(projectID)+"/variables", nil, &vs)
}

// SaveVariables replaces a project's variables.
func (c *Client) SaveVariables(ctx context.Context, vs model.VariableSet) (model.VariableSet, error) {
	return vs, c.do(ctx, "PUT", "/projects/"+url.PathEscape(vs.OwnerID)+"/variables", vs, &vs)
}

// CreateRelease snapshots a project into a release.
func (c *Client) CreateRelease(ctx context.Context, req wire.CreateReleaseRequest) (wire.CreateReleaseResponse, error) {
	var r wire.CreateReleaseResponse
	return r, c.do(ctx, "POST", "/releases", req, &r)
}

// Release reads a release by id.
func (c *Client) Release(ctx context.Context, id string) (model.Release, error) {
	var r model.Release
	return r, c.do(ctx, "GET", "/releases/"+url.PathEscape(id), nil, &r)
}

// FindRelease reads a project's release by version.
func (c *Client) FindRelease(ctx context.Context, projectID, version string) (model.Release, error) {
	var r model.Release
	return r, c.do(ctx, "GET", "/projects/"+url.PathEscape(projectID)+"/releases/"+url.PathEscape(version), nil, &r)
}

// Releases lists releases, newest first.
func (c *Client) Releases(ctx context.Context, o ListOptions) (wire.Page[model.Release], error) {
	return list[model.Release](ctx, c, "/releases", o)
}

// Progression says where a release may be deployed now.
func (c *Client) Progression(ctx context.Context, releaseID string) ([]model.EnvironmentProgress, error) {
	var p []model.EnvironmentProgress
	return p, c.do(ctx, "GET", "/releases/"+url.PathEscape(releaseID)+"/progression", nil, &p)
}

// Deploy sends a release to an environment.
func (c *Client) Deploy(ctx context.Context, req wire.CreateDeploymentRequest) (model.Deployment, error) {
	var d model.Deployment
	return d, c.do(ctx, "POST", "/deployments", req, &d)
}

// Deployment reads a deployment.
func (c *Client) Deployment(ctx context.Context, id string) (model.Deployment, error) {
	var d model.Deployment
	return d, c.do(ctx, "GET", "/deployments/"+url.PathEscape(id), nil, &d)
}

// Deployments lists deployments, newest first.
func (c *Client) Deployments(ctx context.Context, o ListOptions) (wire.Page[model.Deployment], error) {
	return list[model.Deployment](ctx, c, "/deployments", o)
}

// Task reads a task.
func (c *Client) Task(ctx context.Context, id string) (model.Task, error) {
	var t model.Task
	return t, c.do(ctx, "GET", "/tasks/"+url.PathEscape(id), nil, &t)
}

// Tasks lists tasks, newest first.
func (c *Client) Tasks(ctx context.Context, o ListOptions) (wire.Page[model.Task], error) {
	return list[model.Task](ctx, c, "/tasks", o)
}

// TaskLog reads a task's log tree and the lines after since.
func (c *Client) TaskLog(ctx context.Context, id string, since int64) (wire.TaskLog, error) {
	var l wire.TaskLog
	return l, c.do(ctx, "GET", fmt.Sprintf("/tasks/%s/log?since=%d", url.PathEscape(id), since), nil, &l)
}

// CancelTask asks for a task to be canceled.
func (c *Client) CancelTask(ctx context.Context, id string) (model.Task, error) {
	var t model.Task
	return t, c.do(ctx, "POST", "/tasks/"+url.PathEscape(id)+"/cancel", nil, &t)
}

// Event is one event of a live task log.
type Event struct {
	Kind       string // "line", "task", "activities" or "end"
	Line       model.LogLine
	Task       model.Task
	Activities []model.Activity
}

// FollowLog streams a task's log from after since until the task ends,
// calling fn for each event. A dropped connection is resumed from the last
// line received, so no line is lost or repeated.
func (c *Client) FollowLog(ctx context.Context, id string, since int64, fn func(Event) error) error {
	failures := 0
	for {
		done, err := c.followOnce(ctx, id, &since, fn)
		if done || ctx.Err() != nil {
			return err
		}
		var apiErr *Error
		if errors.As(err, &apiErr) {
			return err // the server said no: retrying will not help
		}
		if failures++; failures > 30 {
			return fmt.Errorf("follow log of %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(min(failures, 5)) * time.Second):
		}
	}
}

func (c *Client) followOnce(ctx context.Context, id string, since *int64, fn func(Event) error) (bool, error) {
	req, err := c.request(ctx, "GET", fmt.Sprintf("/tasks/%s/log/stream?since=%d", url.PathEscape(id), *since), nil)
	if err != nil {
		return true, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return false, unwrapURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return true, readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event != "" {
				ev, err := parseEvent(event, data)
				if err != nil {
					return true, err
				}
				if ev.Kind == "line" {
					*since = ev.Line.Seq
				}
				if err := fn(ev); err != nil {
					return true, err
				}
				if ev.Kind == "end" {
					return true, nil
				}
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, io.ErrUnexpectedEOF
}

func parseEvent(kind, data string) (Event, error) {
	ev := Event{Kind: kind}
	var err error
	switch kind {
	case "line":
		err = json.Unmarshal([]byte(data), &ev.Line)
	case "task", "end":
		err = json.Unmarshal([]byte(data), &ev.Task)
	case "activities":
		err = json.Unmarshal([]byte(data), &ev.Activities)
	}
	if err != nil {
		return ev, fmt.Errorf("read %s event: %w", kind, err)
	}
	return ev, nil
}

// Raw sends any request and decodes the answer, for calls without a helper.
func (c *Client) Raw(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, out)
}

// Apply creates or updates what the document describes; with dryRun it only
// reports what would change.
func (c *Client) Apply(ctx context.Context, doc *confdoc.Document, dryRun bool) (confdoc.Result, error) {
	var res confdoc.Result
	return res, c.do(ctx, "POST", "/apply?dryRun="+strconv.FormatBool(dryRun), doc, &res)
}

// Export reads the server's configuration as an apply document.
func (c *Client) Export(ctx context.Context) (*confdoc.Document, error) {
	var doc confdoc.Document
	return &doc, c.do(ctx, "GET", "/export", nil, &doc)
}

// Machines lists machines; filters are usage, environmentId, role, workerPoolId.
func (c *Client) Machines(ctx context.Context, o ListOptions) ([]model.Machine, error) {
	return all[model.Machine](ctx, c, "/machines", o)
}

// FindMachine reads a machine by id or name.
func (c *Client) FindMachine(ctx context.Context, idOrName string) (model.Machine, error) {
	return find[model.Machine](ctx, c, "/machines", "machine", idOrName)
}

// CreateMachine registers a deployment target or worker.
func (c *Client) CreateMachine(ctx context.Context, m model.Machine) (model.Machine, error) {
	var out model.Machine // fresh: the credentials sent must not echo back
	return out, c.do(ctx, "POST", "/machines", m, &out)
}

// UpdateMachine replaces a machine's settings; nil credentials keep the stored ones.
func (c *Client) UpdateMachine(ctx context.Context, m model.Machine) (model.Machine, error) {
	var out model.Machine
	return out, c.do(ctx, "PUT", "/machines/"+url.PathEscape(m.ID), m, &out)
}

// DeleteMachine removes a machine and drops its connection.
func (c *Client) DeleteMachine(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/machines/"+url.PathEscape(id), nil, nil)
}

// CheckHealth checks a machine now.
func (c *Client) CheckHealth(ctx context.Context, id string) (model.Machine, error) {
	var m model.Machine
	return m, c.do(ctx, "POST", "/machines/"+url.PathEscape(id)+"/health", struct{}{}, &m)
}

// ScanSSH reads the host key an SSH server presents to the Pulpo server.
func (c *Client) ScanSSH(ctx context.Context, address string) (wire.SSHScan, error) {
	var s wire.SSHScan
	return s, c.do(ctx, "GET", "/machines/scan-ssh?address="+url.QueryEscape(address), nil, &s)
}

// WorkerPools lists worker pools.
func (c *Client) WorkerPools(ctx context.Context) ([]model.WorkerPool, error) {
	return all[model.WorkerPool](ctx, c, "/workerpools", ListOptions{})
}

// FindWorkerPool reads a pool by id or name.
func (c *Client) FindWorkerPool(ctx context.Context, idOrName string) (model.WorkerPool, error) {
	return find[model.WorkerPool](ctx, c, "/workerpools", "worker pool", idOrName)
}

// CreateWorkerPool makes a pool.
func (c *Client) CreateWorkerPool(ctx context.Context, p model.WorkerPool) (model.WorkerPool, error) {
	return p, c.do(ctx, "POST", "/workerpools", p, &p)
}

// MachinePolicies lists machine policies.
func (c *Client) MachinePolicies(ctx context.Context) ([]model.MachinePolicy, error) {
	return all[model.MachinePolicy](ctx, c, "/machinepolicies", ListOptions{})
}

// FindMachinePolicy reads a policy by id or name.
func (c *Client) FindMachinePolicy(ctx context.Context, idOrName string) (model.MachinePolicy, error) {
	return find[model.MachinePolicy](ctx, c, "/machinepolicies", "machine policy", idOrName)
}

// CreateMachinePolicy makes a policy.
func (c *Client) CreateMachinePolicy(ctx context.Context, p model.MachinePolicy) (model.MachinePolicy, error) {
	return p, c.do(ctx, "POST", "/machinepolicies", p, &p)
}

// UpdateMachinePolicy replaces a policy.
func (c *Client) UpdateMachinePolicy(ctx context.Context, p model.MachinePolicy) (model.MachinePolicy, error) {
	return p, c.do(ctx, "PUT", "/machinepolicies/"+url.PathEscape(p.ID), p, &p)
}

// LibrarySets lists library variable sets.
func (c *Client) LibrarySets(ctx context.Context) ([]model.LibraryVariableSet, error) {
	return all[model.LibraryVariableSet](ctx, c, "/librarysets", ListOptions{})
}

// FindLibrarySet reads a set by id or name.
func (c *Client) FindLibrarySet(ctx context.Context, idOrName string) (model.LibraryVariableSet, error) {
	return find[model.LibraryVariableSet](ctx, c, "/librarysets", "library variable set", idOrName)
}

// CreateLibrarySet makes a set.
func (c *Client) CreateLibrarySet(ctx context.Context, l model.LibraryVariableSet) (model.LibraryVariableSet, error) {
	var out model.LibraryVariableSet
	return out, c.do(ctx, "POST", "/librarysets", l, &out)
}

// UpdateLibrarySet replaces a set; its version must be the one read.
func (c *Client) UpdateLibrarySet(ctx context.Context, l model.LibraryVariableSet) (model.LibraryVariableSet, error) {
	var out model.LibraryVariableSet
	return out, c.do(ctx, "PUT", "/librarysets/"+url.PathEscape(l.ID), l, &out)
}

// RefreshReleaseVariables takes a release's variables again from its project and sets.
func (c *Client) RefreshReleaseVariables(ctx context.Context, releaseID string) (model.Release, error) {
	var r model.Release
	return r, c.do(ctx, "POST", "/releases/"+url.PathEscape(releaseID)+"/snapshot-variables", struct{}{}, &r)
}

// PreviewVariables resolves a project's current variables for an
// environment, machine and step (ids or names; any may be empty).
func (c *Client) PreviewVariables(ctx context.Context, projectID, environment, machine, step, channel string) ([]wire.PreviewVariable, error) {
	v := url.Values{}
	for k, val := range map[string]string{"environmentId": environment, "machineId": machine, "stepId": step, "channelId": channel} {
		if val != "" {
			v.Set(k, val)
		}
	}
	var out []wire.PreviewVariable
	return out, c.do(ctx, "GET", "/projects/"+url.PathEscape(projectID)+"/variables/preview?"+v.Encode(), nil, &out)
}

// Interruptions lists the questions deployments ask, newest first.
func (c *Client) Interruptions(ctx context.Context, taskID string, pendingOnly bool, o ListOptions) (wire.Page[model.Interruption], error) {
	if o.Filters == nil {
		o.Filters = map[string]string{}
	}
	o.Filters["taskId"] = taskID
	if pendingOnly {
		o.Filters["pending"] = "true"
	}
	return list[model.Interruption](ctx, c, "/interruptions", o)
}

// Interruption reads one interruption.
func (c *Client) Interruption(ctx context.Context, id string) (model.Interruption, error) {
	var i model.Interruption
	return i, c.do(ctx, "GET", "/interruptions/"+url.PathEscape(id), nil, &i)
}

// TakeResponsibility marks the caller as handling an interruption.
func (c *Client) TakeResponsibility(ctx context.Context, id string) (model.Interruption, error) {
	var i model.Interruption
	return i, c.do(ctx, "POST", "/interruptions/"+url.PathEscape(id)+"/responsible", nil, &i)
}

// AnswerInterruption answers an interruption.
func (c *Client) AnswerInterruption(ctx context.Context, id string, req wire.AnswerRequest) (model.Interruption, error) {
	var i model.Interruption
	return i, c.do(ctx, "POST", "/interruptions/"+url.PathEscape(id)+"/answer", req, &i)
}

// CreateFreeze creates a deployment freeze.
func (c *Client) CreateFreeze(ctx context.Context, f model.DeploymentFreeze) (model.DeploymentFreeze, error) {
	var out model.DeploymentFreeze
	return out, c.do(ctx, "POST", "/deploymentfreezes", f, &out)
}

// Freezes lists deployment freezes.
func (c *Client) Freezes(ctx context.Context, o ListOptions) (wire.Page[model.DeploymentFreeze], error) {
	return list[model.DeploymentFreeze](ctx, c, "/deploymentfreezes", o)
}

// DeleteFreeze removes a deployment freeze (by id or name).
func (c *Client) DeleteFreeze(ctx context.Context, idOrName string) error {
	f, err := find[model.DeploymentFreeze](ctx, c, "/deploymentfreezes", "deployment freeze", idOrName)
	if err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/deploymentfreezes/"+url.PathEscape(f.ID), nil, nil)
}

// CreateTrigger creates a trigger.
func (c *Client) CreateTrigger(ctx context.Context, t model.Trigger) (model.Trigger, error) {
	var out model.Trigger
	return out, c.do(ctx, "POST", "/triggers", t, &out)
}

// Triggers lists a project's triggers.
func (c *Client) Triggers(ctx context.Context, projectID string) ([]model.Trigger, error) {
	return all[model.Trigger](ctx, c, "/triggers", ListOptions{Filters: map[string]string{"projectId": projectID}})
}

// FindTrigger finds a project's trigger by id or name.
func (c *Client) FindTrigger(ctx context.Context, projectID, idOrName string) (model.Trigger, error) {
	list, err := c.Triggers(ctx, projectID)
	if err != nil {
		return model.Trigger{}, err
	}
	for _, t := range list {
		if t.ID == idOrName || strings.EqualFold(t.Name, idOrName) {
			return t, nil
		}
	}
	return model.Trigger{}, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("the project has no trigger %q", idOrName)}
}

// UpdateTrigger replaces a trigger.
func (c *Client) UpdateTrigger(ctx context.Context, t model.Trigger) (model.Trigger, error) {
	var out model.Trigger
	return out, c.do(ctx, "PUT", "/triggers/"+url.PathEscape(t.ID), t, &out)
}

// DeleteTrigger removes a trigger.
func (c *Client) DeleteTrigger(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/triggers/"+url.PathEscape(id), nil, nil)
}

// RunTrigger fires a trigger now.
func (c *Client) RunTrigger(ctx context.Context, id string) (wire.TriggerRun, error) {
	var out wire.TriggerRun
	return out, c.do(ctx, "POST", "/triggers/"+url.PathEscape(id)+"/run", nil, &out)
}

// CreateSubscription creates a webhook subscription.
func (c *Client) CreateSubscription(ctx context.Context, s model.Subscription) (model.Subscription, error) {
	var out model.Subscription
	return out, c.do(ctx, "POST", "/subscriptions", s, &out)
}

// Subscriptions lists subscriptions.
func (c *Client) Subscriptions(ctx context.Context) ([]model.Subscription, error) {
	return all[model.Subscription](ctx, c, "/subscriptions", ListOptions{})
}

// FindSubscription reads a subscription by id or name.
func (c *Client) FindSubscription(ctx context.Context, idOrName string) (model.Subscription, error) {
	return find[model.Subscription](ctx, c, "/subscriptions", "subscription", idOrName)
}

// DeleteSubscription removes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/subscriptions/"+url.PathEscape(id), nil, nil)
}

// Deliveries is a subscription's delivery log.
func (c *Client) Deliveries(ctx context.Context, id string, o ListOptions) (wire.Page[model.Delivery], error) {
	return list[model.Delivery](ctx, c, "/subscriptions/"+url.PathEscape(id)+"/deliveries", o)
}

// TestSubscription sends a ping event.
func (c *Client) TestSubscription(ctx context.Context, id string) (model.Delivery, error) {
	var d model.Delivery
	return d, c.do(ctx, "POST", "/subscriptions/"+url.PathEscape(id)+"/test", nil, &d)
}

// Dashboard reads what is deployed where.
func (c *Client) Dashboard(ctx context.Context) (wire.Dashboard, error) {
	var d wire.Dashboard
	return d, c.do(ctx, "GET", "/dashboard", nil, &d)
}

// CreateChannel creates a project's channel.
func (c *Client) CreateChannel(ctx context.Context, ch model.Channel) (model.Channel, error) {
	var out model.Channel
	return out, c.do(ctx, "POST", "/channels", ch, &out)
}

// Channels lists a project's channels, the default first.
func (c *Client) Channels(ctx context.Context, projectID string) ([]model.Channel, error) {
	p, err := list[model.Channel](ctx, c, "/channels", ListOptions{Filters: map[string]string{"projectId": projectID}})
	return p.Items, err
}

// DeleteChannel removes a channel.
func (c *Client) DeleteChannel(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/channels/"+url.PathEscape(id), nil, nil)
}

// CreateRunbook creates a runbook.
func (c *Client) CreateRunbook(ctx context.Context, r model.Runbook) (model.Runbook, error) {
	var out model.Runbook
	return out, c.do(ctx, "POST", "/runbooks", r, &out)
}

// Runbooks lists a project's runbooks.
func (c *Client) Runbooks(ctx context.Context, projectID string) ([]model.Runbook, error) {
	p, err := list[model.Runbook](ctx, c, "/runbooks", ListOptions{Filters: map[string]string{"projectId": projectID}})
	return p.Items, err
}

// FindRunbook finds a project's runbook by id or name.
func (c *Client) FindRunbook(ctx context.Context, projectID, idOrName string) (model.Runbook, error) {
	list, err := c.Runbooks(ctx, projectID)
	if err != nil {
		return model.Runbook{}, err
	}
	for _, r := range list {
		if r.ID == idOrName || strings.EqualFold(r.Name, idOrName) {
			return r, nil
		}
	}
	return model.Runbook{}, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("the project has no runbook %q", idOrName)}
}

// PublishRunbook publishes a runbook's snapshot.
func (c *Client) PublishRunbook(ctx context.Context, id string) (model.Release, error) {
	var out model.Release
	return out, c.do(ctx, "POST", "/runbooks/"+url.PathEscape(id)+"/publish", nil, &out)
}

// RunRunbook runs a runbook.
func (c *Client) RunRunbook(ctx context.Context, id string, req wire.RunRunbookRequest) (model.Deployment, error) {
	var out model.Deployment
	return out, c.do(ctx, "POST", "/runbooks/"+url.PathEscape(id)+"/runs", req, &out)
}

// RunbookRuns lists a runbook's runs.
func (c *Client) RunbookRuns(ctx context.Context, id string) (wire.Page[model.Deployment], error) {
	return list[model.Deployment](ctx, c, "/runbooks/"+url.PathEscape(id)+"/runs", ListOptions{})
}

// ApplyReleaseRetention runs release retention now.
func (c *Client) ApplyReleaseRetention(ctx context.Context) ([]model.Release, error) {
	var out []model.Release
	return out, c.do(ctx, "POST", "/retention/releases", nil, &out)
}
