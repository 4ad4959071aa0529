package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/certs"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// expandCertificates turns each certificate variable into the values
// Octopus gives (Name = the id, Name.Thumbprint, Name.CertificatePem,
// Name.PrivateKeyPem, …), each with the variable's scope. As in Octopus the
// certificate is read now, at deployment, not when the release was made: a
// replaced certificate reaches existing releases. The values that carry the
// private key are sensitive and masked from here on.
func expandCertificates(ctx context.Context, q *store.Queries, vs []model.Variable, envID string, masker *vars.Masker) ([]model.Variable, error) {
	out := make([]model.Variable, 0, len(vs))
	for _, v := range vs {
		out = append(out, v)
		if !v.IsCertificate() {
			continue
		}
		if len(v.Scope.Environments) > 0 && !slices.Contains(v.Scope.Environments, envID) {
			continue // not for this environment: nothing to open
		}
		c, m, err := q.CertificateMaterial(ctx, v.Value)
		if err != nil {
			return nil, fmt.Errorf("certificate variable %s: %w", v.Name, err)
		}
		if len(c.EnvironmentIDs) > 0 && !slices.Contains(c.EnvironmentIDs, envID) {
			return nil, fmt.Errorf("certificate variable %s: certificate %q may not be used in environment %s (it is limited to %v)", v.Name, c.Name, envID, c.EnvironmentIDs)
		}
		values, err := certs.Expand(c, m)
		if err != nil {
			return nil, fmt.Errorf("certificate variable %s: %w", v.Name, err)
		}
		for _, e := range values {
			if e.Suffix == "" {
				continue // the variable itself: its value is the id already
			}
			if e.Sensitive {
				masker.Add(e.Value)
			}
			out = append(out, model.Variable{ID: v.ID + e.Suffix, Name: v.Name + e.Suffix, Value: e.Value, Scope: v.Scope,
				Sensitive: e.Sensitive, LibrarySetID: v.LibrarySetID})
		}
	}
	return out, nil
}

// PreviewCertificates expands certificate variables for a preview of what
// a step would get in an environment: the values with the private key stay
// marked sensitive, for the caller to blank.
func PreviewCertificates(ctx context.Context, q *store.Queries, vs []model.Variable, envID string) ([]model.Variable, error) {
	return expandCertificates(ctx, q, vs, envID, vars.NewMasker())
}
