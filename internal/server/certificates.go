package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// defaultCertificateCheckTick is how often certificates' expiry is looked
// at: the window is days long, so a minute is plenty.
const defaultCertificateCheckTick = time.Minute

// watchCertificates raises a certificate-expiring event for each
// certificate that comes within the expiry window (by the store's clock),
// once per certificate and end date, until ctx ends. The store marks what
// it told of in the same transaction, so nodes do not repeat each other.
func watchCertificates(ctx context.Context, s *store.Store, tick time.Duration, logger *slog.Logger) {
	if tick <= 0 {
		tick = defaultCertificateCheckTick
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		err := s.Tx(ctx, func(q *store.Queries) error {
			told, err := q.NotifyExpiringCertificates(ctx, model.CertificateExpiryWindow)
			for _, c := range told {
				logger.Info("certificate expiring", "certificate", c.ID, "name", c.Name, "notAfter", c.NotAfter, "expired", c.Expired)
			}
			return err
		})
		if err != nil && ctx.Err() == nil {
			logger.Warn("certificate expiry check", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
