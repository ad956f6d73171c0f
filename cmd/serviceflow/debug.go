package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"golang.org/x/sync/errgroup"
)

// debugHandler serves Go's profiles under /debug/pprof/: CPU, heap, goroutines,
// allocations and the execution trace, for `go tool pprof`.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// serveDebug serves debugHandler on addr (SERVICEFLOW_DEBUG_ADDR) in g until ctx ends;
// with addr "" it does nothing. The profiles are on a listener of their own, never on
// the API's: they show the process's internals to whoever can reach them.
func serveDebug(ctx context.Context, g *errgroup.Group, addr string, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (SERVICEFLOW_DEBUG_ADDR): %w", addr, err)
	}
	log.Info("serving profiles", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	g.Go(func() error { return serveHTTP(ctx, ln, debugHandler(), log) })
	return nil
}
