package adapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
)

// ReservedStatusKey is the top-level key of status.yaml that belongs to the engine; a pipeline
// that sets it fails.
const ReservedStatusKey = "kratix"

// The status messages a configure workflow leaves when status.yaml sets none (CONTRACT.md §6).
const (
	MessageResourceRequested = "Resource requested"
	MessagePromiseConfigured = "Promise configured"
)

// completedMessage is the message of the ConfigureWorkflowCompleted condition after the last
// configure pipeline.
const completedMessage = "All configure pipelines completed"

// ParseStatusFile reads status.yaml: a YAML mapping of status fields. An empty file is an empty
// mapping. Whole numbers become int64 and others float64, as in unstructured objects.
func ParseStatusFile(data []byte) (map[string]any, error) {
	doc, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	var parsed any
	if err := utiljson.Unmarshal(doc, &parsed); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	switch m := parsed.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return m, nil
	default:
		return nil, errors.New("must be a mapping of status fields")
	}
}

// StatusInput is what MergeStatus merges.
type StatusInput struct {
	// Current is the object's .status; nil when it has none. It is not modified.
	Current map[string]any
	// File is status.yaml as ParseStatusFile returns it; nil when the pipeline wrote none. It is
	// not modified.
	File map[string]any
	// WorkflowType is v1alpha1.WorkflowTypePromise or v1alpha1.WorkflowTypeResource; it picks
	// the default message.
	WorkflowType string
	// ConfigureCompleted is true after the last pipeline of a configure workflow.
	ConfigureCompleted bool
	// Now is when the status is written; the time of condition transitions.
	Now time.Time
}

// MergeStatus returns the object's new .status: status.yaml's top-level keys replace the
// current ones, except conditions, which merge by type (see conditions.SetInStatus). The key "kratix" is
// reserved and refused. When ConfigureCompleted, the ConfigureWorkflowCompleted condition becomes
// True with reason PipelinesExecutedSuccessfully, and message becomes "Resource requested" or
// "Promise configured" unless status.yaml set one.
func MergeStatus(in StatusInput) (map[string]any, error) {
	if _, reserved := in.File[ReservedStatusKey]; reserved {
		return nil, fmt.Errorf("status.yaml sets %q, a key reserved for the engine; remove it", ReservedStatusKey)
	}
	status, err := copyMap(in.Current)
	if err != nil {
		return nil, fmt.Errorf("copy the current status: %w", err)
	}
	file, err := copyMap(in.File)
	if err != nil {
		return nil, fmt.Errorf("copy status.yaml: %w", err)
	}
	for _, key := range sortedKeys(file) {
		if key != "conditions" {
			status[key] = file[key]
			continue
		}
		if err := mergeConditions(status, file[key], in.Now); err != nil {
			return nil, err
		}
	}
	if in.ConfigureCompleted {
		completeConfigure(status, in.File, in.WorkflowType, in.Now)
	}
	return status, nil
}

// mergeConditions merges the conditions of status.yaml into the status, each by its type.
func mergeConditions(status map[string]any, value any, now time.Time) error {
	updates, ok := value.([]any)
	if !ok {
		return errors.New("status.yaml: conditions must be a list")
	}
	for i, u := range updates {
		cond, ok := u.(map[string]any)
		if !ok {
			return fmt.Errorf("status.yaml: conditions[%d] must be a mapping", i)
		}
		if t, _ := cond["type"].(string); t == "" {
			return fmt.Errorf("status.yaml: conditions[%d] needs a type", i)
		}
		conditions.SetInStatus(status, cond, now)
	}
	return nil
}

// completeConfigure marks the configure workflow completed.
func completeConfigure(status, file map[string]any, workflowType string, now time.Time) {
	conditions.SetInStatus(status, conditions.ToMap(metav1.Condition{
		Type:    v1alpha1.ConditionConfigureWorkflowCompleted,
		Status:  metav1.ConditionTrue,
		Reason:  v1alpha1.ReasonPipelinesExecutedSuccessfully,
		Message: completedMessage,
	}), now)
	if _, set := file["message"]; set {
		return
	}
	status["message"] = MessageResourceRequested
	if workflowType == v1alpha1.WorkflowTypePromise {
		status["message"] = MessagePromiseConfigured
	}
}

// copyMap deep-copies a JSON-like map through JSON, so that it accepts whatever the caller built
// it from and shares nothing with it.
func copyMap(m map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if m == nil {
		return out, nil
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := utiljson.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
