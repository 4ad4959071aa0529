package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// buildOpenAPI describes every registered route as an OpenAPI 3.1 document.
// Schemas come from the Go types by reflection, so the document cannot
// drift from what the handlers read and write.
func (a *API) buildOpenAPI() []byte {
	g := &schemaGen{schemas: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range a.routes {
		op := map[string]any{
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
			"operationId": operationID(rt),
		}
		var params []any
		for _, name := range pathParams.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": name[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			p := map[string]any{"name": q.name, "in": "query", "schema": map[string]any{"type": q.kind}}
			if q.doc != "" {
				p["description"] = q.doc
			}
			params = append(params, p)
		}
		for _, h := range rt.headers {
			params = append(params, map[string]any{"name": h.name, "in": "header", "required": true, "description": h.doc, "schema": map[string]any{"type": h.kind}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.rawBody != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				rt.rawBody: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.body))}}}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": http.StatusText(rt.status)}
		switch {
		case rt.stream:
			ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}
		case rt.rawResponse != "":
			ok["content"] = map[string]any{rt.rawResponse: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
		case rt.response != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.response))}}
		}
		responses[itoa(rt.status)] = ok
		errRef := g.schema(reflect.TypeOf(wire.ErrorBody{}))
		errResp := func(desc string) any {
			return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		}
		if !rt.public {
			responses["401"] = errResp("no valid API key")
		}
		if rt.body != nil || len(rt.query) > 0 || rt.rawBody != "" {
			responses["400"] = errResp("invalid input; details says what to fix")
		}
		if rt.rawBody != "" {
			responses["413"] = errResp("the body is larger than the route accepts")
		}
		if strings.Contains(rt.path, "{") {
			responses["404"] = errResp("not found")
		}
		if rt.method != "GET" {
			responses["409"] = errResp("conflicts with what is stored, or not allowed now; error says why")
		}
		op["responses"] = responses
		if !rt.public {
			op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"apiKeyHeader": []string{}}}
		}
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Pulpo API",
			"version":     a.Version,
			"description": "Deployment automation and release orchestration. Authenticate with an API key: 'Authorization: Bearer API-…' or 'X-Pulpo-ApiKey: API-…'. Lists take skip and take and return {items, total}. Errors are {error, details}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer":       map[string]any{"type": "http", "scheme": "bearer"},
				"apiKeyHeader": map[string]any{"type": "apiKey", "in": "header", "name": "X-Pulpo-ApiKey"},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // built from plain maps and strings: cannot fail
	}
	return b
}

var pathParams = regexp.MustCompile(`\{([a-zA-Z]+)\}`)

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.Split(strings.TrimPrefix(rt.path, Prefix), "/") {
		part = strings.Trim(part, "{}")
		part = strings.TrimSuffix(part, ".json")
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// schemaGen turns Go types into JSON Schemas, named structs into
// components/schemas references.
type schemaGen struct {
	schemas map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		return g.schema(t.Elem())
	}
	switch t.Kind() {
	case reflect.Struct:
		name := schemaName(t)
		if _, done := g.schemas[name]; !done {
			g.schemas[name] = nil // placeholder: recursive types end here
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	}
	return map[string]any{"type": jsonKind(t)}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var addFields func(t reflect.Type)
	addFields = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				addFields(f.Type)
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = g.schema(f.Type)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
	}
	addFields(t)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// schemaName names a type in components, generics included: wire.Page[Release] is "PageRelease".
func schemaName(t reflect.Type) string {
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		inner := name[i+1 : len(name)-1]
		if j := strings.LastIndexByte(inner, '.'); j >= 0 {
			inner = inner[j+1:]
		}
		name = name[:i] + strings.TrimPrefix(inner, "*")
	}
	return name
}
