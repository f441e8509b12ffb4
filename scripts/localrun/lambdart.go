package localrun

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// LambdaRuntime is a stand-in for the AWS Lambda Runtime API
// (2018-06-01), on 127.0.0.1, so that a service binary runs its real
// Lambda transport — aws-lambda-go's invoke loop, the event decoding, the
// partial batch response — outside AWS. Point the binary at it with
// AWS_LAMBDA_RUNTIME_API=Addr().
type LambdaRuntime struct {
	srv     *http.Server
	addr    string
	pending chan *invocation

	mu       sync.Mutex
	inFlight map[string]*invocation
	seq      int
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan Result
}

// Result is what the function answered to one invocation.
type Result struct {
	Body    []byte
	IsError bool // the function reported an error instead of a response
}

// StartLambdaRuntime serves the runtime API until Close.
func StartLambdaRuntime() (*LambdaRuntime, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rt := &LambdaRuntime{addr: ln.Addr().String(), pending: make(chan *invocation), inFlight: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", rt.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", rt.answer(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", rt.answer(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	rt.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rt.srv.Serve(ln) }()
	return rt, nil
}

// Addr is the host:port for AWS_LAMBDA_RUNTIME_API.
func (rt *LambdaRuntime) Addr() string { return rt.addr }

// Close stops the server.
func (rt *LambdaRuntime) Close() error { return rt.srv.Close() }

// Invoke hands payload to the function with the given time limit and waits
// for its answer.
func (rt *LambdaRuntime) Invoke(ctx context.Context, payload []byte, limit time.Duration) (Result, error) {
	rt.mu.Lock()
	rt.seq++
	inv := &invocation{id: fmt.Sprintf("req-%d", rt.seq), payload: payload, deadline: time.Now().Add(limit), done: make(chan Result, 1)}
	rt.inFlight[inv.id] = inv
	rt.mu.Unlock()
	select {
	case rt.pending <- inv:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("no function asked for the invocation: %w", ctx.Err())
	}
	select {
	case res := <-inv.done:
		return res, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("the function did not answer: %w", ctx.Err())
	}
}

func (rt *LambdaRuntime) next(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-rt.pending:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:sluice-local")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

func (rt *LambdaRuntime) answer(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rt.mu.Lock()
		inv, ok := rt.inFlight[r.PathValue("id")]
		delete(rt.inFlight, r.PathValue("id"))
		rt.mu.Unlock()
		if !ok {
			http.Error(w, "unknown invocation", http.StatusBadRequest)
			return
		}
		inv.done <- Result{Body: body, IsError: isError}
		w.WriteHeader(http.StatusAccepted)
	}
}
