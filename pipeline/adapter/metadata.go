package adapter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

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
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the metadata directory: %w", err)
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
	data, err := root.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}
