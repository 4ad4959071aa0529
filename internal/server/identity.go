package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Settings kept in the database.
const (
	settingKeyCheck   = "master_key_check"
	settingServerCert = "server_certificate"
	settingServerKey  = "server_private_key"
)

const keyCheckText = "pulpo master key check"

// openSecrets finds the master key (given, or the data folder's master.key,
// made on first start) and checks it is the one the database was made with.
func openSecrets(ctx context.Context, st *store.Store, given, dataDir string) (*secrets.Box, error) {
	var key []byte
	var err error
	where := "--master-key"
	if given != "" {
		key, err = secrets.ParseKey(given)
	} else {
		where = filepath.Join(dataDir, "master.key")
		key, err = secrets.LoadOrCreateKeyFile(where)
	}
	if err != nil {
		return nil, err
	}
	box, err := secrets.New(key)
	if err != nil {
		return nil, err
	}
	var check string
	err = st.Tx(ctx, func(q *store.Queries) (err error) {
		check, err = q.InitSetting(ctx, settingKeyCheck, box.Seal([]byte(keyCheckText)))
		return err
	})
	if err != nil {
		return nil, err
	}
	if got, err := box.Open(check); err != nil || string(got) != keyCheckText {
		// A rotation may have stopped after changing the database and before
		// renaming its new key file over the old one: finish it.
		if given == "" {
			if key, kerr := pendingKey(dataDir); kerr == nil {
				if nb, nerr := secrets.New(key); nerr == nil {
					if got, oerr := nb.Open(check); oerr == nil && string(got) == keyCheckText {
						if rerr := os.Rename(filepath.Join(dataDir, "master.key.new"), where); rerr == nil {
							return nb, nil
						}
					}
				}
			}
		}
		return nil, fmt.Errorf("the master key from %s is not the one this database was made with, so its secrets cannot be read; "+
			"start every server node with the same key (--master-key or PULPO_MASTER_KEY, as in the first node's master.key)", where)
	}
	return box, nil
}

// serverIdentity loads the certificate agents pin, creating it on the first
// start. It lives in the database, so every node presents the same one.
func serverIdentity(ctx context.Context, st *store.Store, box *secrets.Box) (*comms.Identity, error) {
	var certPEM, sealedKey string
	err := st.Tx(ctx, func(q *store.Queries) error {
		cert, err := q.GetSetting(ctx, settingServerCert)
		if err == nil {
			certPEM = cert
			sealedKey, err = q.GetSetting(ctx, settingServerKey)
			return err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		id, err := comms.NewIdentity("pulpo-server")
		if err != nil {
			return err
		}
		if certPEM, err = q.InitSetting(ctx, settingServerCert, string(id.CertPEM)); err != nil {
			return err
		}
		sealedKey, err = q.InitSetting(ctx, settingServerKey, box.Seal(id.KeyPEM))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("server identity: %w", err)
	}
	keyPEM, err := box.Open(sealedKey)
	if err != nil {
		return nil, fmt.Errorf("server identity: %w", err)
	}
	return comms.ParseIdentity([]byte(certPEM), keyPEM)
}
