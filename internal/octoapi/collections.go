package octoapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Octopus's paged collection. Its client reads Items and follows
// Links["Page.Next"] until it is empty, so the last page has none, and the
// link is an absolute path (the client resolves it against different bases).
type pageOf[T any] struct {
	ItemType       string            `json:"ItemType"`
	TotalResults   int               `json:"TotalResults"`
	ItemsPerPage   int               `json:"ItemsPerPage"`
	NumberOfPages  int               `json:"NumberOfPages"`
	LastPageNumber int               `json:"LastPageNumber"`
	Items          []T               `json:"Items"`
	Links          map[string]string `json:"Links"`
}

// defaultTake is Octopus's page size when the client gives none.
const defaultTake = 30

// paging is what a list request asks for.
type paging struct{ skip, take int }

func pagingOf(r *http.Request) (paging, error) {
	p := paging{take: defaultTake}
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		dst  *int
		min  int
	}{{"skip", &p.skip, 0}, {"take", &p.take, 1}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < f.min {
			return p, badRequest("%s must be a whole number of at least %d, not %q", f.name, f.min, s)
		}
		*f.dst = n
	}
	return p, nil
}

// pageItems slices items to p and links the pages, keeping the request's
// other query parameters in every link.
func pageItems[T any](r *http.Request, itemType string, items []T, total int, p paging, sliced bool) pageOf[T] {
	if !sliced {
		items = items[min(p.skip, len(items)):]
		items = items[:min(p.take, len(items))]
	}
	if items == nil {
		items = []T{}
	}
	pages := (total + p.take - 1) / p.take
	link := func(skip int) string {
		q := r.URL.Query()
		q.Set("skip", strconv.Itoa(skip))
		q.Set("take", strconv.Itoa(p.take))
		return r.URL.Path + "?" + q.Encode()
	}
	links := map[string]string{
		"Self":         r.URL.RequestURI(),
		"Page.All":     strings.TrimSuffix(r.URL.Path, "/") + "/all",
		"Page.Current": link(p.skip),
		"Page.Last":    link(max(0, (pages-1)*p.take)),
	}
	if p.skip+len(items) < total {
		links["Page.Next"] = link(p.skip + p.take)
	}
	return pageOf[T]{ItemType: itemType, TotalResults: total, ItemsPerPage: p.take, NumberOfPages: pages,
		LastPageNumber: max(0, pages-1), Items: items, Links: links}
}

// queryList reads a list parameter given either comma-separated
// (ids=A%2CB) or repeated (ids=A&ids=B): Octopus's client does both.
func queryList(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// collection serves one kind of thing Octopus lists, gets and sometimes
// creates, over a collection of Pulpo's API. T is Pulpo's type, O Octopus's.
type collection[T, O any] struct {
	// inner is the native collection's path, "/environments".
	inner string
	// itemType names the items in Octopus's pages.
	itemType string
	// innerQuery narrows the native list (usage=worker); may be nil.
	innerQuery url.Values
	convert    func(c *call, v T) O
	// id and name read the converted item, for the ids, name and
	// partialName filters Octopus clients send.
	id, name func(o O) string
	// keep applies the other filters of the request; may be nil.
	keep func(q url.Values, o O) bool
	// create answers a POST to the collection; nil refuses it.
	create func(c *call) error
	// byName lets GET {collection}/{x} find x by name or slug too, as
	// Octopus does for projects.
	byName bool
	// accept says whether a thing the native API found by id belongs to
	// this collection (a worker is no deployment target); nil takes all.
	accept func(v T) bool
	// manage, for a collection served read-only, says where these things
	// are changed; methods other than GET are refused with it.
	manage string
	// detail completes an item being answered with what costs a call of
	// its own (so only the items of the page asked for pay it); may be nil.
	detail func(c *call, o *O) error
}

// serve answers /api/Spaces-1/<collection>[/all|/{id}].
func (col *collection[T, O]) serve(c *call, segs []string) error {
	if err := col.readOnly(c); err != nil {
		return err
	}
	switch {
	case len(segs) == 0 && c.r.Method == http.MethodPost && col.create != nil:
		return col.create(c)
	case len(segs) == 0:
		return c.get(col.list)
	case len(segs) == 1 && segs[0] == "all":
		return c.get(func(c *call) error {
			items, err := col.matching(c)
			if err != nil {
				return err
			}
			if err := col.completeAll(c, items); err != nil {
				return err
			}
			return c.ok(items)
		})
	case len(segs) == 1:
		return c.get(func(c *call) error {
			o, err := col.find(c, segs[0])
			if err != nil {
				return err
			}
			return c.ok(o)
		})
	}
	return c.unserved("")
}

// readOnly refuses a method other than GET on a read-only collection,
// saying where to make the change instead.
func (col *collection[T, O]) readOnly(c *call) error {
	if col.manage == "" || c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
		return nil
	}
	return &apiError{status: http.StatusMethodNotAllowed,
		msg: fmt.Sprintf("%s is not allowed on %s: Pulpo serves %ss read-only through Octopus's API; %s", c.r.Method, c.r.URL.Path, col.itemType, col.manage)}
}

func (col *collection[T, O]) list(c *call) error {
	p, err := pagingOf(c.r)
	if err != nil {
		return err
	}
	items, err := col.matching(c)
	if err != nil {
		return err
	}
	page := pageItems(c.r, col.itemType, items, len(items), p, false)
	if err := col.completeAll(c, page.Items); err != nil {
		return err
	}
	return c.ok(page)
}

// completeAll runs detail on each item.
func (col *collection[T, O]) completeAll(c *call, items []O) error {
	if col.detail == nil {
		return nil
	}
	for i := range items {
		if err := col.detail(c, &items[i]); err != nil {
			return err
		}
	}
	return nil
}

// matching lists every item that passes the request's filters.
func (col *collection[T, O]) matching(c *call) ([]O, error) {
	q := c.r.URL.Query()
	inner := url.Values{}
	for k, v := range col.innerQuery {
		inner[k] = v
	}
	// The native API filters names itself; partialName ignores case there
	// as in Octopus.
	if n := q.Get("name"); n != "" {
		inner.Set("name", n)
	}
	if n := q.Get("partialName"); n != "" {
		inner.Set("partialName", n)
	}
	all, err := listAll[T](c, col.inner, inner)
	if err != nil {
		return nil, err
	}
	ids := queryList(q, "ids")
	out := make([]O, 0, len(all))
	for _, v := range all {
		o := col.convert(c, v)
		if len(ids) > 0 && !containsFold(ids, col.id(o)) {
			continue
		}
		if col.keep != nil && !col.keep(q, o) {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// find gets one item by id, or (byName) by name or slug.
func (col *collection[T, O]) find(c *call, x string) (O, error) {
	var v T
	err := c.getJSON(col.inner+"/"+url.PathEscape(x), nil, &v)
	if err == nil && col.accept != nil && !col.accept(v) {
		err = notFound("there is no %s %q", strings.ToLower(col.itemType), x)
	}
	if err == nil {
		o := col.convert(c, v)
		if col.detail != nil {
			err = col.detail(c, &o)
		}
		return o, err
	}
	var zero O
	if !isNotFound(err) || !col.byName {
		return zero, err
	}
	all, lerr := listAll[T](c, col.inner, col.innerQuery)
	if lerr != nil {
		return zero, lerr
	}
	for _, v := range all {
		o := col.convert(c, v)
		if strings.EqualFold(col.name(o), x) || slug(col.name(o)) == strings.ToLower(x) {
			var derr error
			if col.detail != nil {
				derr = col.detail(c, &o)
			}
			return o, derr
		}
	}
	return zero, err
}

// innerPage is the native API's page.
type innerPage[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

// innerTake is the native API's largest page.
const innerTake = 1000

// listAll reads every page of a native collection.
func listAll[T any](c *call, path string, query url.Values) ([]T, error) {
	var all []T
	for skip := 0; ; skip += innerTake {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("skip", strconv.Itoa(skip))
		q.Set("take", strconv.Itoa(innerTake))
		var page innerPage[T]
		if err := c.getJSON(path, q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if len(page.Items) == 0 || skip+len(page.Items) >= page.Total {
			return all, nil
		}
	}
}

// innerRange reads the items skip to skip+take of a native list, in pages
// the native API allows, and the list's total.
func innerRange[T any](c *call, path string, query url.Values, p paging) ([]T, int, error) {
	var out []T
	total := 0
	for skip := p.skip; len(out) < p.take; {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("skip", strconv.Itoa(skip))
		q.Set("take", strconv.Itoa(min(p.take-len(out), innerTake)))
		var page innerPage[T]
		if err := c.getJSON(path, q, &page); err != nil {
			return nil, 0, err
		}
		total = page.Total
		out = append(out, page.Items...)
		skip += len(page.Items)
		if len(page.Items) == 0 || skip >= page.Total {
			break
		}
	}
	return out, total, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// slug is Octopus's URL-friendly form of a name: "My Web App" → "my-web-app".
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// empty answers the collections Pulpo has nothing of (tenants, accounts…):
// an empty page, an empty list, and 404 for any one of them.
func (h *Handler) empty(c *call, segs []string, what string) error {
	switch {
	case len(segs) == 0:
		return c.get(func(c *call) error {
			p, err := pagingOf(c.r)
			if err != nil {
				return err
			}
			return c.ok(pageItems[struct{}](c.r, what, nil, 0, p, false))
		})
	case len(segs) == 1 && segs[0] == "all":
		return c.get(func(c *call) error { return c.ok([]struct{}{}) })
	}
	return notFound("Pulpo has no %s: %s does not exist", what, strings.Join(segs, "/"))
}
