package model

import (
	"slices"
	"strings"
	"testing"
)

func TestEmailStepValidation(t *testing.T) {
	ok := func() *EmailAction { return &EmailAction{To: []string{"ops@example.com"}, Subject: "Deployed"} }
	tests := []struct {
		name    string
		step    Step
		problem string // "" when valid
	}{
		{"an address", Step{Email: ok()}, ""},
		{"a named address and a list", Step{Email: &EmailAction{To: []string{"Ops <ops@example.com>", "a@example.com; b@example.com"}, Subject: "S"}}, ""},
		{"only a team", Step{Email: &EmailAction{ToTeams: []string{"Ops"}, Subject: "S"}}, ""},
		{"only bcc", Step{Email: &EmailAction{Bcc: []string{"audit@example.com"}, Subject: "S"}}, ""},
		{"an address from a variable", Step{Email: &EmailAction{To: []string{"#{OpsMail}"}, Subject: "S"}}, ""},
		{"with the failure condition", Step{Condition: ConditionFailure, Retries: 2, Email: ok()}, ""},
		{"bad address", Step{Email: &EmailAction{To: []string{"ops at example"}, Subject: "S"}}, `email.to[0]: "ops at example" is not an email address`},
		{"bad cc", Step{Email: &EmailAction{To: []string{"a@example.com"}, Cc: []string{"x@"}, Subject: "S"}}, "email.cc[0]"},
		{"empty address", Step{Email: &EmailAction{To: []string{" "}, Subject: "S"}}, "email.to[0]: is empty"},
		{"empty team", Step{Email: &EmailAction{ToTeams: []string{""}, Subject: "S"}}, "email.toTeams[0]: is empty"},
		{"no recipient", Step{Email: &EmailAction{Subject: "S"}}, "email.to: is required: give at least one address or team"},
		{"no subject", Step{Email: &EmailAction{To: []string{"a@example.com"}, Subject: " "}}, "email.subject: is required"},
		{"two-line subject", Step{Email: &EmailAction{To: []string{"a@example.com"}, Subject: "a\nBcc: x@example.com"}}, "email.subject: must be one line"},
		{"body too long", Step{Email: &EmailAction{To: []string{"a@example.com"}, Subject: "S", Body: strings.Repeat("x", MaxEmailBodyLength+1)}}, "email.body: is"},
		{"on targets", Step{TargetRoles: []string{"web"}, Email: ok()}, "sent by the server, on no machine"},
		{"on a pool", Step{WorkerPoolID: "WorkerPools-1", Email: ok()}, "sent by the server, on no machine"},
		{"with a script too", Step{Email: ok(), Script: &ScriptAction{Syntax: SyntaxBash, Body: "x"}}, "does one thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.step.Name = "Mail"
			d := DeploymentProcess{Steps: []Step{tt.step}}
			err := d.Validate()
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Fatalf("expected %q, got %v", tt.problem, err)
			}
		})
	}
	if k := (&Step{Email: ok()}).Kind(); k != "email" {
		t.Errorf("kind %q", k)
	}
}

func TestParseEmailAddresses(t *testing.T) {
	got, err := ParseEmailAddresses("Ops <ops@example.com>, dev@example.com; lead@example.com;")
	if err != nil || !slices.Equal(got, []string{"ops@example.com", "dev@example.com", "lead@example.com"}) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseEmailAddresses("nobody"); err == nil {
		t.Fatal("accepted an address without @")
	}
	teams := (&EmailAction{ToTeams: []string{"Ops", "Dev"}, CcTeams: []string{"ops"}, BccTeams: []string{"Teams-3"}}).Teams()
	if !slices.Equal(teams, []string{"Ops", "Dev", "Teams-3"}) {
		t.Fatalf("teams %v", teams)
	}
}
