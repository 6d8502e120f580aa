package frame

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/frameflow/frameflow/internal/regularfile"
)

// DefaultBaseURL is the documented Admin API endpoint.
const DefaultBaseURL = "https://api.console.nutanix.com/v1"

// Environment variables read by ConfigFromEnv.
const (
	EnvAPIURL       = "FRAME_API_URL"
	EnvClientID     = "FRAME_CLIENT_ID"
	EnvClientSecret = "FRAME_CLIENT_SECRET"
)

// Defaults applied by NewClient to zero-valued knobs.
const (
	DefaultRetryMax       = 3
	DefaultRetryWaitMin   = 500 * time.Millisecond
	DefaultRetryWaitMax   = 15 * time.Second
	DefaultMaxRetryAfter  = 60 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultUserAgent      = "frameflow"
)

// RequestInfo describes one attempt of one request, for the engine's
// `request` events. It never holds headers or bodies.
type RequestInfo struct {
	Method   string
	Path     string // as sent, without the base URL's path and without the query
	Status   int    // 0 when no response was read
	Duration time.Duration
	Attempt  int        // 1 for the first attempt
	Class    ErrorClass // "" on success
	Err      string     // short error text when the attempt failed at the transport
}

// Config configures a Client. The zero value of every knob means its
// default; the secret is redacted by String, GoString, LogValue and JSON.
type Config struct {
	BaseURL      string // default DefaultBaseURL; http:// only to loopback hosts
	ClientID     string
	ClientSecret string `json:"-"`

	RetryMax     int           // transport retries after the first attempt; 0: default, <0: none
	RetryWaitMin time.Duration // first backoff; 0: default
	RetryWaitMax time.Duration // backoff cap; 0: default
	// MaxRetryAfter is the longest Retry-After the transport waits for
	// itself; a longer one ends the call with an APIError carrying it, for
	// the step's retry policy to decide. 0: default.
	MaxRetryAfter  time.Duration
	RequestTimeout time.Duration // per attempt, including reading the body; 0: default, <0: none
	RateLimit      float64       // requests per second over all attempts; 0: unlimited
	Burst          int           // rate limiter burst; 0: 1
	MaxInFlight    int           // requests in flight at once; 0: unlimited
	ReadOnly       bool          // plan mode: anything but GET/HEAD is refused locally

	Logger     *slog.Logger      // each attempt at debug level; nil: no logs
	OnRequest  func(RequestInfo) // called after each attempt; must not block
	HTTPClient *http.Client      // its Transport is used (wrapped); nil: a pooled default
	Now        func() time.Time  // signing clock, for tests; nil: time.Now
	UserAgent  string
}

const redacted = "[redacted]"

func (c Config) secretLabel() string {
	if c.ClientSecret == "" {
		return "(unset)"
	}
	return redacted
}

// String prints the configuration without the secret.
func (c Config) String() string {
	return fmt.Sprintf("frame.Config{BaseURL: %q, ClientID: %q, ClientSecret: %s, ReadOnly: %t}",
		c.BaseURL, c.ClientID, c.secretLabel(), c.ReadOnly)
}

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", c.secretLabel()),
		slog.Bool("read_only", c.ReadOnly),
	)
}

// ConfigFromEnv builds a Config from the environment (getenv, usually
// os.Getenv) and the command line: apiURL (--api-url) overrides
// FRAME_API_URL; a credentialsFile (--credentials) overrides
// FRAME_CLIENT_ID/FRAME_CLIENT_SECRET. The file holds JSON
// ({"client_id": ..., "client_secret": ...}), KEY=VALUE lines or flat YAML
// "key: value" lines (client_id, client_secret, or the FRAME_* names) and
// must not be accessible by group or others.
func ConfigFromEnv(getenv func(string) string, apiURL, credentialsFile string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg := Config{BaseURL: apiURL}
	if cfg.BaseURL == "" {
		cfg.BaseURL = getenv(EnvAPIURL)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if credentialsFile != "" {
		id, secret, err := readCredentialsFile(credentialsFile)
		if err != nil {
			return Config{}, err
		}
		cfg.ClientID, cfg.ClientSecret = id, secret
	} else {
		cfg.ClientID = strings.TrimSpace(getenv(EnvClientID))
		cfg.ClientSecret = strings.TrimSpace(getenv(EnvClientSecret))
		switch {
		case cfg.ClientID == "" && cfg.ClientSecret == "":
			return Config{}, fmt.Errorf("no Frame API credentials: set %s and %s, or pass --credentials FILE", EnvClientID, EnvClientSecret)
		case cfg.ClientID == "":
			return Config{}, fmt.Errorf("%s is set but %s is empty", EnvClientSecret, EnvClientID)
		case cfg.ClientSecret == "":
			return Config{}, fmt.Errorf("%s is set but %s is empty", EnvClientID, EnvClientSecret)
		}
	}
	if _, err := checkBaseURL(cfg.BaseURL); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// maxCredentialsBytes bounds what is read from a credentials file: it holds
// two short strings.
const maxCredentialsBytes = 64 << 10

func readCredentialsFile(path string) (id, secret string, err error) {
	// Checked before opening: opening a FIFO blocks until a writer comes,
	// in a system call no signal handler can interrupt (Ctrl-C and SIGTERM
	// were caught and ignored while it hung). A device could stream forever.
	f, st, err := regularfile.Open(path)
	var notRegular *regularfile.NotRegularError
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", "", fmt.Errorf("credentials file %s does not exist (--credentials: a file holding client_id and client_secret); %w", path, os.ErrNotExist)
	case errors.As(err, &notRegular):
		return "", "", fmt.Errorf("credentials file %s is %v; give the path of a file holding client_id and client_secret", path, err)
	case errors.Is(err, regularfile.ErrChanged):
		return "", "", fmt.Errorf("credentials file %s %v; refusing it", path, err)
	case err != nil:
		return "", "", fmt.Errorf("credentials file: %w", err)
	}
	defer f.Close()
	if st.Size() > maxCredentialsBytes {
		return "", "", fmt.Errorf("credentials file %s is larger than %d bytes; it should hold only client_id and client_secret", path, maxCredentialsBytes)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return "", "", fmt.Errorf("credentials file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	data, err := readAllLimited(f, maxCredentialsBytes)
	if err != nil {
		return "", "", fmt.Errorf("credentials file %s: %w", path, err)
	}
	vals, err := parseCredentials(data)
	if err != nil {
		// The parse error never quotes the file's content: it holds the secret.
		return "", "", fmt.Errorf("credentials file %s: %w", path, err)
	}
	id = firstNonEmpty(vals["client_id"], vals[strings.ToLower(EnvClientID)])
	secret = firstNonEmpty(vals["client_secret"], vals[strings.ToLower(EnvClientSecret)])
	if id == "" || secret == "" {
		return "", "", fmt.Errorf("credentials file %s must define client_id and client_secret", path)
	}
	return id, secret, nil
}

func readAllLimited(f *os.File, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New("file too large")
	}
	return data, nil
}

// parseCredentials reads JSON, KEY=VALUE lines (a shell or .env file) or
// "key: value" lines (a flat YAML file); keys are lower-cased.
func parseCredentials(data []byte) (map[string]string, error) {
	out := map[string]string{}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, errors.New("invalid JSON")
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[strings.ToLower(k)] = strings.TrimSpace(s)
			}
		}
		return out, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		l = strings.TrimPrefix(l, "export ")
		k, v, ok := strings.Cut(l, "=")
		if yk, yv, yaml := strings.Cut(l, ":"); yaml && (!ok || len(yk) < len(k)) {
			// "client_id: abc": a flat YAML mapping, the first separator wins.
			k, v, ok = yk, yv, true
		}
		if !ok {
			return nil, fmt.Errorf("line %d: expected client_id=VALUE or client_id: VALUE (JSON, KEY=VALUE and flat YAML files are read)", line)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// checkBaseURL parses and checks the API base URL: https anywhere, plain
// http only to a loopback host, no credentials, query or fragment.
func checkBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("API URL %q: %v", raw, err)
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("API URL %q: want an absolute URL such as %s", raw, DefaultBaseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("API URL must not contain user information; use FRAME_CLIENT_ID/FRAME_CLIENT_SECRET")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("API URL %q must not have a query or fragment", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("API URL %q: plain http:// is allowed only to a loopback host (127.0.0.0/8, ::1, localhost); use https://", raw)
		}
	default:
		return nil, fmt.Errorf("API URL %q: scheme must be https (or http to a loopback host)", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
