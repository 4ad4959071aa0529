package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// RotateMasterKey re-seals every secret in the database with a new master
// key (newKey, or a generated one) and returns the new key as text. Every
// server node must be stopped. With the key in the data folder, the new key
// is written to master.key.new before the database changes and renamed
// over master.key after, so a crash in between leaves a key that opens the
// database (the server tries master.key.new when master.key does not).
func RotateMasterKey(ctx context.Context, cfg Config, newKey string) (string, int, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return "", 0, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		return "", 0, fmt.Errorf("%w; stop the server first", err)
	}
	defer unlock()
	st, err := store.Open(ctx, store.Config{DatabaseURL: cfg.DatabaseURL, DataDir: dir})
	if err != nil {
		return "", 0, err
	}
	defer st.Close()
	oldBox, err := openSecrets(ctx, st, cfg.MasterKey, dir)
	if err != nil {
		return "", 0, err
	}
	key := secrets.NewKey()
	if newKey != "" {
		if key, err = secrets.ParseKey(newKey); err != nil {
			return "", 0, err
		}
	}
	newBox, err := secrets.New(key)
	if err != nil {
		return "", 0, err
	}
	keyFile := filepath.Join(dir, "master.key")
	pending := keyFile + ".new"
	inFolder := cfg.MasterKey == ""
	if inFolder {
		if err := os.WriteFile(pending, []byte(secrets.EncodeKey(key)+"\n"), 0o600); err != nil {
			return "", 0, fmt.Errorf("write the new key: %w", err)
		}
	}
	var n int
	err = st.Tx(ctx, func(q *store.Queries) (err error) {
		n, err = q.RotateSecrets(ctx, oldBox, newBox)
		return err
	})
	if err != nil {
		if inFolder {
			os.Remove(pending)
		}
		return "", 0, fmt.Errorf("rotate the master key (nothing changed): %w", err)
	}
	if inFolder {
		if err := os.Rename(pending, keyFile); err != nil {
			return "", 0, fmt.Errorf("the database now uses the key in %s, but it could not replace %s: %w", pending, keyFile, err)
		}
	}
	return secrets.EncodeKey(key), n, nil
}

// pendingKey is a rotation's new key file, if a rotation stopped between
// changing the database and renaming the file.
func pendingKey(dataDir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "master.key.new"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return secrets.ParseKey(string(b))
}
