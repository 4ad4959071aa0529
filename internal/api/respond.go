package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/auth"
	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/feed"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// apiError is an error with its HTTP status.
type apiError struct {
	status  int
	msg     string
	details []string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its response. Anything not recognised is a 500
// and is logged; bad input never ends there.
func statusOf(err error) (int, wire.ErrorBody) {
	var ae *apiError
	var ve *model.ValidationError
	var re *model.RefusedError
	var authErr *auth.Error
	var badPkg *feed.BadPackageError
	var denied *access.DeniedError
	var csrf *auth.CSRFError
	var throttled *auth.ThrottledError
	var issuer *auth.IssuerError
	var feedErr *extfeed.Error
	switch {
	case errors.As(err, &feedErr) && feedErr.NotFound:
		return http.StatusNotFound, wire.ErrorBody{Error: feedErr.Error()}
	case errors.As(err, &feedErr):
		// The feed, not the caller, failed: a bad gateway, never a 401
		// the caller would take for its own credentials.
		return http.StatusBadGateway, wire.ErrorBody{Error: feedErr.Error()}
	case errors.As(err, &issuer):
		return http.StatusBadGateway, wire.ErrorBody{Error: issuer.Error()}
	case errors.As(err, &denied):
		return http.StatusForbidden, wire.ErrorBody{Error: denied.Error()}
	case errors.As(err, &csrf):
		return http.StatusForbidden, wire.ErrorBody{Error: csrf.Error()}
	case errors.As(err, &throttled):
		return http.StatusTooManyRequests, wire.ErrorBody{Error: throttled.Error()}
	case errors.As(err, &ae):
		return ae.status, wire.ErrorBody{Error: ae.msg, Details: ae.details}
	case errors.As(err, &ve):
		return http.StatusBadRequest, wire.ErrorBody{Error: fmt.Sprintf("%s is invalid", ve.Subject), Details: ve.Problems}
	case errors.As(err, &re):
		return http.StatusConflict, wire.ErrorBody{Error: err.Error()}
	case errors.As(err, &authErr):
		return http.StatusUnauthorized, wire.ErrorBody{Error: authErr.Msg}
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, wire.ErrorBody{Error: err.Error()}
	case errors.As(err, &badPkg):
		return http.StatusBadRequest, wire.ErrorBody{Error: badPkg.Msg}
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, wire.ErrorBody{Error: err.Error()}
	}
	return http.StatusInternalServerError, wire.ErrorBody{Error: "internal error; the server log has the details"}
}

func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, body := statusOf(err)
	if status == http.StatusInternalServerError {
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pulpo"`)
	}
	var throttled *auth.ThrottledError
	if errors.As(err, &throttled) {
		w.Header().Set("Retry-After", strconv.Itoa(int(throttled.Wait.Seconds()+0.999)))
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// maxBody bounds request bodies; a deployment process with large inline
// scripts fits many times over.
const maxBody = 16 << 20

// tooLarge refuses a body over maxBody.
func tooLarge() error {
	return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the request body is larger than %d MiB; send less", maxBody>>20)}
}

// decode reads a JSON body into v strictly: unknown fields, wrong types,
// trailing data and empty bodies are each reported in words.
func decode(r *http.Request, v any) error {
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		return badRequest("the request body is empty: send a JSON object")
	case errors.As(err, &tooBig):
		return tooLarge()
	case errors.As(err, &syntax):
		return badRequest("the request body is not valid JSON: %v (at byte %d)", err, syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is not valid JSON: it ends too early")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return badRequest("the request body must be a JSON %s", jsonKind(reflect.TypeOf(v)))
		}
		return badRequest("field %q must be %s, not %s", field, article(jsonKind(typeErr.Type)), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &apiError{status: http.StatusBadRequest, msg: "unknown field " + name,
			details: []string{"allowed fields: " + strings.Join(fieldNames(reflect.TypeOf(v)), ", ")}}
	default:
		return badRequest("the request body could not be read: %v", err)
	}
	if dec.More() {
		return badRequest("the request body holds more than one JSON value")
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

func article(kind string) string {
	if strings.IndexByte("aeiou", kind[0]) >= 0 {
		return "an " + kind
	}
	return "a " + kind
}

// fieldNames lists the JSON fields a struct accepts.
func fieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// maxTake bounds one page.
const maxTake = 1000

// defaultTake is the page size when none is asked for.
const defaultTake = 100

type paging struct {
	skip, take int
}

func pagingOf(r *http.Request) (paging, error) {
	p := paging{take: defaultTake}
	q := r.URL.Query()
	if s := q.Get("skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, badRequest("skip must be a whole number of at least 0, not %q", s)
		}
		p.skip = n
	}
	if s := q.Get("take"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTake {
			return p, badRequest("take must be a whole number from 1 to %d, not %q", maxTake, s)
		}
		p.take = n
	}
	return p, nil
}

func page[T any](items []T, total int, p paging) wire.Page[T] {
	if items == nil {
		items = []T{}
	}
	return wire.Page[T]{Items: items, Total: total, Skip: p.skip, Take: p.take}
}
