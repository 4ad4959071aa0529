package targets

import (
	"encoding/json"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
)

// SealCredentials encrypts a machine's SSH credentials for the store; no
// credentials give an empty string.
func SealCredentials(box *secrets.Box, c *model.SSHCredentials) (string, error) {
	if c == nil || (c.PrivateKey == "" && c.Password == "") {
		return "", nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return box.Seal(b), nil
}

// OpenCredentials decrypts what SealCredentials made.
func OpenCredentials(box *secrets.Box, sealed string, into *model.SSHCredentials) error {
	b, err := box.Open(sealed)
	if err != nil {
		return fmt.Errorf("open SSH credentials: %w", err)
	}
	return json.Unmarshal(b, into)
}
