package adapter

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/manifests"
	"kratix.dev/kratix/scheduling"
	"kratix.dev/kratix/statestore"
)

// FileError is what is wrong with one file of a pipeline's output or metadata.
type FileError struct {
	// Path of the file, slash-separated, relative to the directory it was found in.
	Path string
	// Problem says what is wrong, as a predicate of the file.
	Problem string
}

// Error names the file and says what is wrong with it; a path or problem longer than a few
// hundred bytes is shortened in its middle, so that an error naming many files stays readable
// and of bounded size.
func (e *FileError) Error() string {
	return fmt.Sprintf("%q %s", shorten(e.Path, 256), shorten(e.Problem, 512))
}

// shorten keeps the start and the end of s, at most n bytes of it in all.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head, tail := n/2, len(s)-n/2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + "…" + s[tail:]
}

// WorkInput is what the work-writer turns into a pipeline's WorkSpec.
type WorkInput struct {
	// OutputDir is the pipeline's /kratix/output.
	OutputDir string
	// Selectors are the entries of destination-selectors.yaml (ReadDestinationSelectors); none
	// when the pipeline wrote no such file.
	Selectors []scheduling.DestinationSelector
	// PromiseSelectors are the Promise's spec.destinationSelectors.
	PromiseSelectors []v1alpha1.PromiseScheduling
	// WorkflowType is v1alpha1.WorkflowTypePromise or v1alpha1.WorkflowTypeResource.
	WorkflowType string
	// PromiseName, ResourceName, ResourceNamespace and PipelineName say whose output it is;
	// ResourceName and ResourceNamespace are empty for a promise workflow.
	PromiseName, ResourceName, ResourceNamespace, PipelineName string
}

// BuildWorkSpec reads the pipeline's output and files it into workload groups: a file goes to
// the group of its top-level directory when destination-selectors.yaml gives that directory a
// group, with a filepath relative to that directory; otherwise to the root group, with its path
// relative to the output directory. Groups that receive no file are left out, so an empty
// output gives a WorkSpec without workload groups.
//
// The output is refused, every offending file named (each a *FileError, see errors.As), when a
// file is a symbolic link, is not a regular file, has a path a state store would refuse, or is a
// .yaml, .yml or .json file that does not parse: one bad file would break a whole GitOps
// directory on the Destinations.
func BuildWorkSpec(in WorkInput) (v1alpha1.WorkSpec, error) {
	groups, err := scheduling.BuildWorkloadGroups(in.Selectors, in.PromiseSelectors, in.WorkflowType)
	if err != nil {
		return v1alpha1.WorkSpec{}, fmt.Errorf("workload groups: %w", err)
	}
	files, err := readOutput(in.OutputDir)
	if err != nil {
		return v1alpha1.WorkSpec{}, err
	}
	filled, err := fileIntoGroups(groups, files)
	if err != nil {
		return v1alpha1.WorkSpec{}, err
	}
	return v1alpha1.WorkSpec{
		PromiseName:       in.PromiseName,
		ResourceName:      in.ResourceName,
		ResourceNamespace: in.ResourceNamespace,
		PipelineName:      in.PipelineName,
		WorkloadGroups:    filled,
	}, nil
}

// outputFile is one file of the output, path relative to the output directory.
type outputFile struct {
	path string
	data []byte
}

// readOutput reads every file under dir, sorted by path, or returns every problem found. Files
// are read through an os.Root, so nothing outside dir can be read even if the tree changes
// underneath.
func readOutput(dir string) ([]outputFile, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the output directory: %w", err)
	}
	// Closing a directory opened for reading cannot lose anything.
	defer func() { _ = root.Close() }()

	var files []outputFile
	var problems []error
	refused := 0 // files refused, named in problems or not
	refuse := func(p, problem string) {
		if refused++; refused <= maxProblemsNamed {
			problems = append(problems, &FileError{Path: p, Problem: problem})
		}
	}
	total := 0   // bytes of the files read so far
	entries := 0 // files, directories and others walked so far
	walkErr := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if entries++; entries > maxOutputEntries {
			return fmt.Errorf("it holds more than %d files and directories, more than one Work can take", maxOutputEntries)
		}
		if problem := entryProblem(root, p, d); problem != "" {
			refuse(p, problem)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, problem, err := readOutputFile(root, p, v1alpha1.MaxDecodedContent-total)
		if err != nil {
			return err
		}
		if problem != "" {
			refuse(p, problem)
			return nil
		}
		total += len(data) + len(p) // the paths are kept too
		if problem := manifests.Problem(p, data); problem != "" {
			refuse(p, problem)
			return nil
		}
		files = append(files, outputFile{path: p, data: data})
		return nil
	})
	if walkErr != nil {
		return nil, fmt.Errorf("read the output directory %s: %w", dir, walkErr)
	}
	if len(problems) > 0 {
		if refused > len(problems) {
			problems = append(problems, fmt.Errorf("and %d more files", refused-len(problems)))
		}
		return nil, fmt.Errorf("refusing the pipeline's output in %s:\n%w", dir, errors.Join(problems...))
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, nil
}

// maxProblemsNamed is how many of the files it refuses the work-writer names: enough to fix
// them, few enough for a message of bounded size.
const maxProblemsNamed = 20

// maxOutputEntries is the most files and directories a pipeline's output may hold: more than a
// Work of DefaultSizeBudget can take, few enough that walking them takes the engine's steps
// little time and memory (tests lower it).
var maxOutputEntries = 50_000

// readOutputFile reads one output file of at most budget bytes, the room left in the Work. The
// size is checked before reading and the read is bounded too, so neither a sparse file of any
// size nor one that grows meanwhile is read whole.
func readOutputFile(root *os.Root, p string, budget int) (data []byte, problem string, err error) {
	tooLarge := fmt.Sprintf("makes the output larger than %d bytes, the most one Work holds", v1alpha1.MaxDecodedContent)
	f, err := root.Open(p)
	if err != nil {
		return nil, "", err
	}
	// Closing a file opened for reading cannot lose anything.
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if info.Size() > int64(budget) {
		return nil, fmt.Sprintf("is %d bytes and %s", info.Size(), tooLarge), nil
	}
	data, err = io.ReadAll(io.LimitReader(f, int64(budget)+1))
	if err != nil {
		return nil, "", err
	}
	if len(data) > budget {
		return nil, "grew while it was read and " + tooLarge, nil
	}
	return data, "", nil
}

// entryProblem says what makes a directory entry unacceptable, if anything.
func entryProblem(root *os.Root, p string, d fs.DirEntry) string {
	switch {
	case d.Type()&fs.ModeSymlink != 0:
		return symlinkProblem(root, p)
	case !d.IsDir() && !d.Type().IsRegular():
		return fmt.Sprintf("is not a regular file (%s)", d.Type())
	}
	if _, err := statestore.CleanPath(p); err != nil {
		var why *statestore.Error
		if errors.As(err, &why) && why.Err != nil {
			err = why.Err // the path itself is named already
		}
		return fmt.Sprintf("has a path that a state store refuses: %v", err)
	}
	return ""
}

// symlinkProblem describes a symbolic link, saying whether it points outside the output.
func symlinkProblem(root *os.Root, p string) string {
	target, err := root.Readlink(p)
	if err != nil {
		return "is a symbolic link; write the file itself"
	}
	resolved := path.Join(path.Dir(p), target)
	if path.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Sprintf("is a symbolic link to %q, which escapes the output directory", target)
	}
	return fmt.Sprintf("is a symbolic link (to %q); write the file itself", target)
}

// fileIntoGroups adds each file to its workload group and drops the groups left empty.
func fileIntoGroups(groups []v1alpha1.WorkloadGroup, files []outputFile) ([]v1alpha1.WorkloadGroup, error) {
	root := -1
	byDirectory := make(map[string]int, len(groups))
	for i, g := range groups {
		if g.Directory == v1alpha1.RootDirectory {
			root = i
		} else {
			byDirectory[g.Directory] = i
		}
	}
	if root < 0 {
		return nil, errors.New("workload groups have no root group")
	}
	for _, f := range files {
		group, rel := root, f.path
		if top, rest, nested := strings.Cut(f.path, "/"); nested {
			if i, ok := byDirectory[top]; ok {
				group, rel = i, rest
			}
		}
		content, err := v1alpha1.EncodeContent(f.data)
		if err != nil {
			return nil, fmt.Errorf("encode %q: %w", f.path, err)
		}
		groups[group].Workloads = append(groups[group].Workloads, v1alpha1.Workload{Filepath: rel, Content: content})
	}
	var filled []v1alpha1.WorkloadGroup
	for _, g := range groups {
		if len(g.Workloads) > 0 {
			filled = append(filled, g)
		}
	}
	return filled, nil
}
