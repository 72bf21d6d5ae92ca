package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthzReportsConfiguredStatus(t *testing.T) {
	srv := httptest.NewServer(newMux(Config{Status: "ok", Version: "1.2.3"}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body["status"] != "ok" || body["version"] != "1.2.3" {
		t.Fatalf("got %d %v", resp.StatusCode, body)
	}
}

func TestRootGreetsWithVersion(t *testing.T) {
	rec := httptest.NewRecorder()
	newMux(Config{Message: "hi", Version: "2.0.0"}).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "hi from the demo app 2.0.0") {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestUnknownPathIsNotFound(t *testing.T) {
	rec := httptest.NewRecorder()
	newMux(Config{}).ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if rec.Code != 404 {
		t.Fatalf("got %d", rec.Code)
	}
}

func TestHealthcheckFollowsStatusCode(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	if err := healthcheck(ok.URL); err != nil {
		t.Fatalf("200 must pass: %v", err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer bad.Close()
	if err := healthcheck(bad.URL); err == nil {
		t.Fatal("503 must fail")
	}
}

func TestShippedConfigLoads(t *testing.T) {
	cfg, err := loadConfig(filepath.Join("config", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Status == "" || cfg.Version == "" {
		t.Fatalf("incomplete config %+v", cfg)
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "missing.json")); !os.IsNotExist(err) {
		t.Fatalf("a missing file must fail: %v", err)
	}
}
