package controllers

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// resourceControllers runs one resource controller per Promise API, started when the Promise's
// CRD is established and stopped when the Promise goes. It is a manager Runnable: controllers
// started before the manager runs wait for it, and all of them stop with it.
type resourceControllers struct {
	mgr ctrl.Manager
	// build makes the controller of a Promise's API; it is started by ensure.
	build func(promise string, gvk schema.GroupVersionKind) (controller.Controller, error)

	mu      sync.Mutex
	ctx     context.Context
	started chan struct{}
	running map[string]*runningController
}

// runningController is one Promise's resource controller.
type runningController struct {
	gvk    schema.GroupVersionKind
	cancel context.CancelFunc
	done   chan struct{}
}

func newResourceControllers(mgr ctrl.Manager, build func(string, schema.GroupVersionKind) (controller.Controller, error)) *resourceControllers {
	return &resourceControllers{mgr: mgr, build: build, started: make(chan struct{}), running: map[string]*runningController{}}
}

// Start records the manager's context and waits for it to end, then for the controllers.
func (rc *resourceControllers) Start(ctx context.Context) error {
	rc.mu.Lock()
	rc.ctx = ctx
	close(rc.started)
	rc.mu.Unlock()
	<-ctx.Done()
	rc.mu.Lock()
	running := rc.running
	rc.running = map[string]*runningController{}
	rc.mu.Unlock()
	for _, r := range running {
		<-r.done
	}
	return nil
}

// ensure starts the resource controller of the Promise for gvk unless it runs already; a
// controller for another version or kind of the Promise's API is replaced.
func (rc *resourceControllers) ensure(ctx context.Context, promise string, gvk schema.GroupVersionKind) error {
	select {
	case <-rc.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r, ok := rc.running[promise]; ok {
		if r.gvk == gvk {
			return nil
		}
		rc.stopLocked(promise)
	}
	c, err := rc.build(promise, gvk)
	if err != nil {
		return fmt.Errorf("build the resource controller of Promise %s: %w", promise, err)
	}
	cctx, cancel := context.WithCancel(rc.ctx)
	r := &runningController{gvk: gvk, cancel: cancel, done: make(chan struct{})}
	rc.running[promise] = r
	go func() {
		defer close(r.done)
		if err := c.Start(cctx); err != nil {
			rc.mgr.GetLogger().Error(err, "the resource controller stopped", "promise", promise, "gvk", gvk.String())
		}
	}()
	return nil
}

// stop stops the resource controller of the Promise, if it runs, and drops its informer.
func (rc *resourceControllers) stop(promise string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.stopLocked(promise)
}

func (rc *resourceControllers) stopLocked(promise string) {
	r, ok := rc.running[promise]
	if !ok {
		return
	}
	delete(rc.running, promise)
	r.cancel()
	<-r.done
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.gvk)
	if err := rc.mgr.GetCache().RemoveInformer(context.Background(), obj); err != nil {
		rc.mgr.GetLogger().Error(err, "remove the informer of a Promise's API", "promise", promise, "gvk", r.gvk.String())
	}
}
