package model

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// InterruptionKind says why a task stopped to ask a person.
type InterruptionKind string

// Interruption kinds.
const (
	// InterruptionManual is a manual intervention step: proceed or abort.
	InterruptionManual InterruptionKind = "ManualIntervention"
	// InterruptionGuidedFailure is a failed step under guided failure:
	// retry, ignore, exclude the machine, or fail.
	InterruptionGuidedFailure InterruptionKind = "GuidedFailure"
)

// Answers to interruptions. A manual intervention takes Proceed or Abort;
// guided failure takes Retry, Ignore, Exclude or Fail.
const (
	AnswerProceed = "Proceed"
	AnswerAbort   = "Abort"
	AnswerRetry   = "Retry"
	AnswerIgnore  = "Ignore"
	AnswerExclude = "Exclude"
	AnswerFail    = "Fail"
	// AnswerCanceled is recorded by the server on the open questions of a
	// task that was canceled; nobody can give it.
	AnswerCanceled = "Canceled"
)

// Interruption is a question a running deployment asks people, waiting,
// without holding a task slot, until someone answers it.
type Interruption struct {
	ID            string           `json:"id"`
	TaskID        string           `json:"taskId"`
	DeploymentID  string           `json:"deploymentId,omitempty"`
	ProjectID     string           `json:"projectId,omitempty"`
	EnvironmentID string           `json:"environmentId,omitempty"`
	Kind          InterruptionKind `json:"kind"`
	// ActivityID is the node of the task log the question belongs to: the
	// step of a manual intervention, the failed target of guided failure.
	ActivityID int    `json:"activityId"`
	StepID     string `json:"stepId,omitempty"`
	Title      string `json:"title"`
	// Instructions are markdown, for a manual intervention.
	Instructions string `json:"instructions,omitempty"`
	// ResponsibleTeams may answer; empty lets anyone who may deploy.
	ResponsibleTeams []string `json:"responsibleTeams,omitempty"`
	// MachineID is the machine that failed, for guided failure.
	MachineID string `json:"machineId,omitempty"`
	// Error is what failed, for guided failure.
	Error string `json:"error,omitempty"`
	// Answers lists what may be answered.
	Answers   []string   `json:"answers"`
	CreatedAt time.Time  `json:"createdAt"`
	TakenBy   string     `json:"takenBy,omitempty"`
	TakenAt   *time.Time `json:"takenAt,omitempty"`
	// Answer, Notes, AnsweredBy and AnsweredAt are set once, by the answer.
	Answer     string     `json:"answer,omitempty"`
	Notes      string     `json:"notes,omitempty"`
	AnsweredBy string     `json:"answeredBy,omitempty"`
	AnsweredAt *time.Time `json:"answeredAt,omitempty"`
}

// Pending reports whether the interruption still waits for an answer.
func (i *Interruption) Pending() bool { return i.Answer == "" }

// CheckAnswer says, in words a user can act on, why an answer does not fit.
func (i *Interruption) CheckAnswer(answer string) (string, error) {
	for _, a := range i.Answers {
		if strings.EqualFold(a, strings.TrimSpace(answer)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("%q is not an answer to this %s: answer %s", answer, i.kindWords(), strings.Join(i.Answers, ", "))
}

func (i *Interruption) kindWords() string {
	if i.Kind == InterruptionGuidedFailure {
		return "failure"
	}
	return "manual intervention"
}

// GuidedFailureAnswers are the choices after a step failed on a machine;
// Exclude only where there is a machine to leave out.
func GuidedFailureAnswers(onMachine bool) []string {
	answers := []string{AnswerRetry, AnswerIgnore, AnswerExclude, AnswerFail}
	if !onMachine {
		answers = slices.DeleteFunc(answers, func(a string) bool { return a == AnswerExclude })
	}
	return answers
}
