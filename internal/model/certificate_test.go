package model

import (
	"strings"
	"testing"
	"time"
)

func TestCertificateVariablesAndExpiry(t *testing.T) {
	for _, tt := range []struct {
		name    string
		v       Variable
		problem string
	}{
		{"text", Variable{Name: "A", Value: "x"}, ""},
		{"certificate, any case", Variable{Name: "C", Type: "certificate", Value: "Certificates-1"}, ""},
		{"unknown type", Variable{Name: "C", Type: "AmazonWebServicesAccount", Value: "x"}, "is not a variable type"},
		{"sensitive certificate", Variable{Name: "C", Type: "Certificate", Value: "Certificates-1", Sensitive: true}, "cannot be sensitive"},
		{"prompted certificate", Variable{Name: "C", Type: "Certificate", Value: "Certificates-1", Prompt: &Prompt{}}, "cannot be sensitive or prompted"},
		{"no certificate named", Variable{Name: "C", Type: "Certificate"}, "is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&VariableSet{Variables: []Variable{tt.v}}).Validate(ScopeRefs{})
			if (tt.problem == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.problem)) {
				t.Errorf("got %v, want %q", err, tt.problem)
			}
		})
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		left              time.Duration
		expired, expiring bool
	}{
		{21 * 24 * time.Hour, false, false},
		{20 * 24 * time.Hour, false, true},
		{time.Hour, false, true},
		{0, true, false},
		{-time.Hour, true, false},
	} {
		c := Certificate{NotAfter: now.Add(tt.left)}
		c.JudgeExpiry(now)
		if c.Expired != tt.expired || c.ExpiringSoon != tt.expiring {
			t.Errorf("%v before the end: expired %v, expiring %v", tt.left, c.Expired, c.ExpiringSoon)
		}
	}
}
