package model

import (
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
)

// EventKind names something Pulpo tells subscribers about.
type EventKind string

// Events subscriptions can ask for.
const (
	EventDeploymentStarted   EventKind = "deployment-started"
	EventDeploymentSucceeded EventKind = "deployment-succeeded"
	EventDeploymentFailed    EventKind = "deployment-failed"
	EventDeploymentCanceled  EventKind = "deployment-canceled"
	// EventInterventionWaiting: a deployment waits for people (a manual
	// intervention, or a failure under guided failure).
	EventInterventionWaiting EventKind = "intervention-waiting"
	EventMachineUnhealthy    EventKind = "machine-unhealthy"
	// EventReleaseBoardUpdated carries a project's release board rows
	// after each finished deployment, for an outside page to show.
	EventReleaseBoardUpdated EventKind = "release-board-updated"
	// EventCertificateExpiring: a certificate comes within
	// CertificateExpiryWindow of its end (or is found already expired);
	// sent once per certificate and expiry date.
	EventCertificateExpiring EventKind = "certificate-expiring"
	// EventPing is sent by "test" to check a subscription's endpoint.
	EventPing EventKind = "ping"
)

// EventKinds lists the events a subscription may ask for.
var EventKinds = []EventKind{EventDeploymentStarted, EventDeploymentSucceeded, EventDeploymentFailed, EventDeploymentCanceled,
	EventInterventionWaiting, EventMachineUnhealthy,
	EventReleaseBoardUpdated, EventCertificateExpiring}

// Subscription sends events to a webhook: an HTTPS (or HTTP) endpoint that
// receives a JSON POST signed with HMAC-SHA256 under the secret.
type Subscription struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Disabled bool        `json:"disabled,omitempty"`
	Events   []EventKind `json:"events"`
	// ProjectIDs and EnvironmentIDs narrow the events; empty means all.
	ProjectIDs     []string `json:"projectIds,omitempty"`
	EnvironmentIDs []string `json:"environmentIds,omitempty"`
	WebhookURL     string   `json:"webhookUrl,omitempty"`
	// EmailTo are addresses the events are mailed to (the server needs an
	// SMTP server: --smtp-host).
	EmailTo []string `json:"emailTo,omitempty"`
	// Secret signs each delivery; write-only: reads say only whether one is set.
	Secret    string `json:"secret,omitempty"`
	HasSecret bool   `json:"hasSecret"`
}

// Validate checks the subscription on its own.
func (s *Subscription) Validate() error {
	p := problems{subject: "subscription"}
	checkName(&p, "name", s.Name)
	if len(s.Events) == 0 {
		p.add("events", "is required: some of %s", eventNames())
	}
	for _, e := range s.Events {
		if !slices.Contains(EventKinds, e) {
			p.add("events", "%q is not an event: use %s", e, eventNames())
		}
	}
	if s.WebhookURL == "" && len(s.EmailTo) == 0 {
		p.add("webhookUrl", "is required, unless emailTo says where to mail the events")
	}
	if s.WebhookURL != "" {
		u, err := url.Parse(s.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.add("webhookUrl", "%q is not an http(s) URL", s.WebhookURL)
		}
	}
	for _, a := range s.EmailTo {
		if _, err := mail.ParseAddress(a); err != nil {
			p.add("emailTo", "%q is not an email address", a)
		}
	}
	return p.err()
}

func eventNames() string {
	names := make([]string, len(EventKinds))
	for i, e := range EventKinds {
		names[i] = string(e)
	}
	return strings.Join(names, ", ")
}

// Wants reports whether the subscription asks for an event about project
// and environment (either may be empty for events without one).
func (s *Subscription) Wants(kind EventKind, projectID, envID string) bool {
	if s.Disabled || !slices.Contains(s.Events, kind) {
		return false
	}
	if len(s.ProjectIDs) > 0 && (projectID == "" || !slices.Contains(s.ProjectIDs, projectID)) {
		return false
	}
	if len(s.EnvironmentIDs) > 0 && (envID == "" || !slices.Contains(s.EnvironmentIDs, envID)) {
		return false
	}
	return true
}

// DeliveryState is where a webhook delivery is.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "Pending"
	DeliverySucceeded DeliveryState = "Succeeded"
	DeliveryFailed    DeliveryState = "Failed" // gave up after every retry
)

// Delivery is one event on its way to one subscription, with what
// happened at each try: the delivery log.
type Delivery struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	// Channel is webhook or email.
	Channel       string        `json:"channel"`
	Event         EventKind     `json:"event"`
	State         DeliveryState `json:"state"`
	Attempts      int           `json:"attempts"`
	CreatedAt     time.Time     `json:"createdAt"`
	NextAttemptAt *time.Time    `json:"nextAttemptAt,omitempty"`
	DeliveredAt   *time.Time    `json:"deliveredAt,omitempty"`
	// LastStatus is the endpoint's last HTTP status (0 when unreachable)
	// and LastError what went wrong.
	LastStatus int    `json:"lastStatus,omitempty"`
	LastError  string `json:"lastError,omitempty"`
	// Payload is the JSON body sent.
	Payload string `json:"payload"`
}
