package adapter

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/scheduling"
)

// StatusFile is the name of status.yaml in the metadata directory (CONTRACT.md §6).
const StatusFile = "status.yaml"

// destinationSelectorsFile is the name of destination-selectors.yaml in the metadata directory.
var destinationSelectorsFile = path.Base(scheduling.DestinationSelectorsFile)

// ReadDestinationSelectors reads and parses destination-selectors.yaml from the metadata
// directory; no file means no entries.
func ReadDestinationSelectors(metadataDir string) ([]scheduling.DestinationSelector, error) {
	data, err := readMetadataFile(metadataDir, destinationSelectorsFile)
	if err != nil || data == nil {
		return nil, err
	}
	entries, err := scheduling.ParseDestinationSelectors(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", destinationSelectorsFile, err)
	}
	return entries, nil
}

// ReadStatusFile reads and parses status.yaml from the metadata directory; no file means an
// empty map.
func ReadStatusFile(metadataDir string) (map[string]any, error) {
	data, err := readMetadataFile(metadataDir, StatusFile)
	if err != nil || data == nil {
		return nil, err
	}
	status, err := ParseStatusFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", StatusFile, err)
	}
	return status, nil
}

// readMetadataFile returns the content of a control file, nil when there is none. A link or
// anything but a regular file is refused: the file's content can end up in error messages and
// status, and must not come from elsewhere in the container.
func readMetadataFile(dir, name string) ([]byte, error) {
	return readRegularFile(dir, name, MaxMetadataFile, "a metadata file")
}

// readRegularFile returns the content of the regular file name in dir, nil when there is none;
// a link, anything but a regular file, or a file larger than limit bytes (what names it in the
// error) is refused. The size is checked before reading and the read is bounded too.
func readRegularFile(dir, name string, limit int, what string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the directory of %s: %w", name, err)
	}
	// Closing a directory opened for reading cannot lose anything.
	defer func() { _ = root.Close() }()
	info, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, &FileError{Path: name, Problem: fmt.Sprintf("is not a regular file (%s)", info.Mode().Type())}
	}
	tooLarge := &FileError{Path: name, Problem: fmt.Sprintf("is larger than %d bytes, the most %s may hold", limit, what)}
	if info.Size() > int64(limit) {
		return nil, tooLarge
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	// Closing a file opened for reading cannot lose anything.
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > limit {
		return nil, tooLarge // it grew while it was read
	}
	return data, nil
}

// MaxMetadataFile is the most bytes a file of the metadata directory may hold: what it says
// ends up in an object, which the API server takes up to about 1.5 MiB in all. The bound also
// keeps a pipeline from having the engine's steps read a file of any size into memory.
const MaxMetadataFile = 1 << 20

// WorkflowControlFile is the name of workflow-control.yaml in the metadata directory: a pipeline
// that writes `suspend: true` suspends its workflow, one that writes `retryAfter: <duration>`
// has its pipeline run again after the duration; `message` says why. Either way the pipeline's
// output is not written to its Work.
const WorkflowControlFile = "workflow-control.yaml"

// WorkflowControl is workflow-control.yaml.
type WorkflowControl struct {
	Suspend    bool   `json:"suspend,omitempty"`
	Message    string `json:"message,omitempty"`
	RetryAfter string `json:"retryAfter,omitempty"`
}

// Suspends reports whether the pipeline suspends its workflow or asks for a retry.
func (c WorkflowControl) Suspends() bool {
	return c.Suspend || c.RetryAfter != ""
}

// RetryDuration is retryAfter parsed; zero when there is none.
func (c WorkflowControl) RetryDuration() (time.Duration, error) {
	if c.RetryAfter == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.RetryAfter)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: retryAfter %q is not a duration such as 30s or 5m", WorkflowControlFile, c.RetryAfter)
	}
	return d, nil
}

// ReadWorkflowControl reads workflow-control.yaml from the metadata directory; no file means no
// control.
func ReadWorkflowControl(metadataDir string) (WorkflowControl, error) {
	var c WorkflowControl
	data, err := readMetadataFile(metadataDir, WorkflowControlFile)
	if err != nil || data == nil {
		return c, err
	}
	// Keys it does not know are ignored, as upstream Kratix does: files written for a newer
	// version of upstream's SDKs still suspend or retry.
	if err := yaml.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", WorkflowControlFile, err)
	}
	if _, err := c.RetryDuration(); err != nil {
		return c, err
	}
	return c, nil
}
