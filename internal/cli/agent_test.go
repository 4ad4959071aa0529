package cli

import (
	"strings"
	"testing"
)

// pulpo agent --server takes the server's polling address as host:port or
// as the URL the documentation shows (https://pulpo:10943).
func TestPollingAddress(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string
	}{
		{in: "pulpo:10943", want: "pulpo:10943"},
		{in: "10.0.0.5:10943", want: "10.0.0.5:10943"},
		{in: "[::1]:10943", want: "[::1]:10943"},
		{in: "https://pulpo:10943", want: "pulpo:10943"},
		{in: "https://pulpo:10943/", want: "pulpo:10943"},
		{in: "https://pulpo.example.com:10943/some/path", want: "pulpo.example.com:10943"},
		{in: "https://[::1]:10943", want: "[::1]:10943"},
		{in: "http://pulpo:10943", want: "pulpo:10943"},
		{in: "pulpo", wantErr: `"pulpo" is not host:port (the server's polling port, 10943 by default)`},
		{in: "https://pulpo", wantErr: `"https://pulpo" is not host:port (the server's polling port`},
		{in: "https://", wantErr: `"https://" is not an address: give host:port`},
		{in: "https://pul po:10943", wantErr: "is not an address: give host:port"},
		{in: "", wantErr: `"" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := pollingAddress(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("pollingAddress(%q) = %q, %v; want an error saying %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("pollingAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
