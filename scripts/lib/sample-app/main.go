// The conveyor demo's sample application: a small HTTP service.
//
//	GET /         a greeting with the version
//	GET /healthz  200 {"status": <config status>, "version": <version>}
//
// `app -healthcheck` is the container's HEALTHCHECK: it GETs its own /healthz
// and exits 0 on HTTP 200, 1 otherwise (the image is FROM scratch: no curl).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is the fallback when the config names none (-ldflags "-X main.version=...").
var version = "dev"

// Config is the file COPYed into the image (/etc/app/config.json).
type Config struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Message string `json:"message"`
}

func loadConfig(path string) (Config, error) {
	cfg := Config{Status: "ok", Version: version, Message: "hello"}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Version == "" {
		cfg.Version = version
	}
	return cfg, nil
}

func newMux(cfg Config) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": cfg.Status, "version": cfg.Version})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s from the demo app %s\n", cfg.Message, cfg.Version)
	})
	return mux
}

// healthcheck GETs url and reports whether it answered 200.
func healthcheck(url string) error {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	return nil
}

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	configPath := flag.String("config", "/etc/app/config.json", "config file")
	check := flag.Bool("healthcheck", false, "GET this instance's /healthz and exit 0 on 200, 1 otherwise")
	flag.Parse()
	if *check {
		if err := healthcheck("http://127.0.0.1" + *addr + "/healthz"); err != nil {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("app %s listening on %s (status %q)", cfg.Version, *addr, cfg.Status)
	srv := &http.Server{Addr: *addr, Handler: newMux(cfg), ReadHeaderTimeout: 5 * time.Second}
	// As PID 1 of its container the app gets no default signal handling:
	// without this, `podman stop` waits its full timeout and then kills.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
