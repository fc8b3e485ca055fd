package v1alpha1

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/randfill"
)

// kinds are fresh objects of every kind in the package, lists included.
func kinds() []runtime.Object {
	return []runtime.Object{
		&Promise{}, &PromiseList{},
		&Destination{}, &DestinationList{},
		&GitStateStore{}, &GitStateStoreList{},
		&BucketStateStore{}, &BucketStateStoreList{},
		&Work{}, &WorkList{},
		&WorkPlacement{}, &WorkPlacementList{},
		&PromiseRelease{}, &PromiseReleaseList{},
		&HealthRecord{}, &HealthRecordList{},
		&PromiseRevision{}, &PromiseRevisionList{},
		&ResourceBinding{}, &ResourceBindingList{},
		&DryRun{}, &DryRunList{},
	}
}

// filler fills objects with random content that is also valid JSON wherever the types hold raw
// documents or values with a canonical form.
func filler(seed int64) *randfill.Filler {
	return randfill.NewWithSeed(seed).NilChance(0.1).NumElements(1, 2).Funcs(
		func(r *runtime.RawExtension, c randfill.Continue) {
			r.Raw = fmt.Appendf(nil, `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":%q}}`, c.String(8))
		},
		func(d *Dependency, c randfill.Continue) {
			d.Object = map[string]any{
				"apiVersion": "v1",
				"kind":       "ConfigMap",
				"metadata":   map[string]any{"name": c.String(8)},
				"data":       map[string]any{c.String(4): c.String(8)},
			}
		},
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewQuantity(c.Int63n(1<<20), resource.DecimalSI)
		},
		func(t *metav1.Time, c randfill.Continue) {
			*t = metav1.Unix(c.Int63n(1<<31), 0)
		},
		func(f *metav1.FieldsV1, c randfill.Continue) {
			f.SetRawBytes([]byte(`{"f:metadata":{}}`))
		},
	)
}

// TestDeepCopyRoundTrip checks for every kind that DeepCopy gives an equal object that shares no
// memory with the original, and that JSON encoding loses nothing.
func TestDeepCopyRoundTrip(t *testing.T) {
	for _, kind := range kinds() {
		typ := reflect.TypeOf(kind).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			for seed := int64(0); seed < 20; seed++ {
				orig := reflect.New(typ).Interface().(runtime.Object)
				filler(seed).Fill(orig)

				copied := orig.DeepCopyObject()
				if !equality.Semantic.DeepEqual(orig, copied) {
					t.Fatalf("seed %d: DeepCopyObject differs from the original", seed)
				}
				if path, ok := shares(reflect.ValueOf(orig), reflect.ValueOf(copied), typ.Name()); ok {
					t.Fatalf("seed %d: the copy shares %s with the original", seed, path)
				}

				data, err := json.Marshal(orig)
				if err != nil {
					t.Fatalf("seed %d: marshal: %v", seed, err)
				}
				decoded := reflect.New(typ).Interface().(runtime.Object)
				if err := json.Unmarshal(data, decoded); err != nil {
					t.Fatalf("seed %d: unmarshal: %v", seed, err)
				}
				again, err := json.Marshal(decoded)
				if err != nil {
					t.Fatalf("seed %d: marshal again: %v", seed, err)
				}
				if string(again) != string(data) {
					t.Fatalf("seed %d: JSON round trip changed the object:\n%s\n%s", seed, data, again)
				}
			}
		})
	}
}

// shares walks two values of the same type and reports the first exported pointer, slice or map
// that both point to: a shallow copy where a deep one was due.
func shares(a, b reflect.Value, path string) (string, bool) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return "", false
		}
		if a.Pointer() == b.Pointer() {
			return path, true
		}
		return shares(a.Elem(), b.Elem(), path)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return "", false
		}
		return shares(a.Elem(), b.Elem(), path)
	case reflect.Slice:
		if a.Len() == 0 || b.Len() == 0 {
			return "", false
		}
		if a.Pointer() == b.Pointer() {
			return path, true
		}
		for i := 0; i < a.Len() && i < b.Len(); i++ {
			if p, ok := shares(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	case reflect.Map:
		if a.Len() == 0 || b.Len() == 0 {
			return "", false
		}
		if a.Pointer() == b.Pointer() {
			return path, true
		}
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); bv.IsValid() {
				if p, ok := shares(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k)); ok {
					return p, true
				}
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if !a.Type().Field(i).IsExported() {
				continue
			}
			if p, ok := shares(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); ok {
				return p, true
			}
		}
	}
	return "", false
}

// TestVolumeJSONIsACoreVolume checks that a pipeline volume encodes exactly as a Kubernetes volume,
// so that the Job built from it gets what the Promise said.
func TestVolumeJSONIsACoreVolume(t *testing.T) {
	const doc = `{"name":"scratch","emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}}`
	var v Volume
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "scratch" || v.EmptyDir == nil || v.EmptyDir.Medium != "Memory" || v.EmptyDir.SizeLimit.String() != "64Mi" {
		t.Fatalf("decoded %+v", v.Volume)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != doc {
		t.Errorf("encoded %s, want %s", out, doc)
	}
}

// TestSharesFindsAliasing keeps the check above honest: a shallow copy must be caught.
func TestSharesFindsAliasing(t *testing.T) {
	orig := &Promise{}
	filler(1).Fill(orig)
	shallow := *orig
	if _, ok := shares(reflect.ValueOf(orig), reflect.ValueOf(&shallow), "Promise"); !ok {
		t.Fatal("a shallow copy of a filled Promise was not reported as sharing memory")
	}
}
