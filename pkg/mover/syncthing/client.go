package syncthing

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client speaks the part of Syncthing's REST API the mover needs: its own status and connections,
// and the devices, folders, options and GUI of its configuration. Syncthing's own Go packages are
// not imported: they would bring its whole dependency tree into volsyncd for a handful of JSON
// fields, and the REST API is what Syncthing keeps stable.
type Client struct {
	// BaseURL is https://host:port of the API.
	BaseURL string
	// APIKey is sent as X-API-Key.
	APIKey string
	// HTTP makes the requests; NewClient pins it to the API's certificate.
	HTTP *http.Client
}

// NewClient is a Client for the API at baseURL that trusts only certPEM, the certificate volsync
// generated for it, and expects serverName in it (the API is reached by address, and the
// certificate names the Service).
func NewClient(baseURL, apiKey string, certPEM []byte, serverName string) (*Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		return nil, fmt.Errorf("the syncthing API certificate is not a PEM certificate")
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey, HTTP: &http.Client{Transport: transport, Timeout: 15 * time.Second}}, nil
}

// Device is the part of a device of Syncthing's configuration the mover reads. It writes devices
// with PATCH of the fields it sets, so the rest keep what Syncthing has.
type Device struct {
	DeviceID     string   `json:"deviceID"`
	Name         string   `json:"name"`
	Addresses    []string `json:"addresses"`
	Introducer   bool     `json:"introducer"`
	IntroducedBy string   `json:"introducedBy"`
}

// FolderDevice is one device a folder is shared with.
type FolderDevice struct {
	DeviceID     string `json:"deviceID"`
	IntroducedBy string `json:"introducedBy"`
}

// Folder is a folder of Syncthing's configuration.
type Folder struct {
	ID      string         `json:"id"`
	Label   string         `json:"label"`
	Path    string         `json:"path"`
	Type    string         `json:"type"`
	Devices []FolderDevice `json:"devices"`
	Paused  bool           `json:"paused"`
}

// Options is the part of the global options the mover sets.
type Options struct {
	ListenAddresses       []string `json:"listenAddresses"`
	GlobalAnnounceEnabled bool     `json:"globalAnnounceEnabled"`
	LocalAnnounceEnabled  bool     `json:"localAnnounceEnabled"`
	RelaysEnabled         bool     `json:"relaysEnabled"`
	NATEnabled            bool     `json:"natEnabled"`
	URAccepted            int      `json:"urAccepted"`
	CrashReportingEnabled bool     `json:"crashReportingEnabled"`
	AutoUpgradeIntervalH  int      `json:"autoUpgradeIntervalH"`
}

// Config is the part of /rest/config the mover reads.
type Config struct {
	Devices []Device `json:"devices"`
	Folders []Folder `json:"folders"`
	Options Options  `json:"options"`
	GUI     struct {
		User     string `json:"user"`
		Password string `json:"password"`
	} `json:"gui"`
}

// Connection is one entry of /rest/system/connections.
type Connection struct {
	Connected bool   `json:"connected"`
	Address   string `json:"address"`
	Paused    bool   `json:"paused"`
}

// Completion is /rest/db/completion: how far a device is with a folder.
type Completion struct {
	Completion  float64 `json:"completion"`
	NeedBytes   int64   `json:"needBytes"`
	NeedItems   int64   `json:"needItems"`
	GlobalBytes int64   `json:"globalBytes"`
}

// MyID is this device's ID, from /rest/system/status.
func (c *Client) MyID(ctx context.Context) (string, error) {
	var st struct {
		MyID string `json:"myID"`
	}
	if err := c.do(ctx, http.MethodGet, "/rest/system/status", nil, &st); err != nil {
		return "", err
	}
	if st.MyID == "" {
		return "", fmt.Errorf("syncthing reported no device ID")
	}
	return st.MyID, nil
}

// Config reads the configuration.
func (c *Client) Config(ctx context.Context) (*Config, error) {
	var cfg Config
	if err := c.do(ctx, http.MethodGet, "/rest/config", nil, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Connections reads the connections, by device ID.
func (c *Client) Connections(ctx context.Context) (map[string]Connection, error) {
	var out struct {
		Connections map[string]Connection `json:"connections"`
	}
	if err := c.do(ctx, http.MethodGet, "/rest/system/connections", nil, &out); err != nil {
		return nil, err
	}
	return out.Connections, nil
}

// Completion reads how complete device is with folder (an empty device is this one).
func (c *Client) Completion(ctx context.Context, folder, device string) (*Completion, error) {
	q := url.Values{"folder": {folder}}
	if device != "" {
		q.Set("device", device)
	}
	var out Completion
	if err := c.do(ctx, http.MethodGet, "/rest/db/completion?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PatchDevice creates the device or changes the fields given; a new device starts from
// Syncthing's device defaults.
func (c *Client) PatchDevice(ctx context.Context, id string, fields map[string]any) error {
	method := http.MethodPatch
	var cur map[string]any
	if err := c.do(ctx, http.MethodGet, "/rest/config/devices/"+url.PathEscape(id), nil, &cur); err != nil {
		if !isNotFound(err) {
			return err
		}
		method = http.MethodPut // PUT of an unknown device creates it on top of the defaults
		fields["deviceID"] = id
	}
	return c.do(ctx, method, "/rest/config/devices/"+url.PathEscape(id), fields, nil)
}

// DeleteDevice removes a device from the configuration.
func (c *Client) DeleteDevice(ctx context.Context, id string) error {
	err := c.do(ctx, http.MethodDelete, "/rest/config/devices/"+url.PathEscape(id), nil, nil)
	if isNotFound(err) {
		return nil
	}
	return err
}

// PatchFolder creates the folder or changes the fields given, as PatchDevice does.
func (c *Client) PatchFolder(ctx context.Context, id string, fields map[string]any) error {
	method := http.MethodPatch
	var cur map[string]any
	if err := c.do(ctx, http.MethodGet, "/rest/config/folders/"+url.PathEscape(id), nil, &cur); err != nil {
		if !isNotFound(err) {
			return err
		}
		method = http.MethodPut
		fields["id"] = id
	}
	return c.do(ctx, method, "/rest/config/folders/"+url.PathEscape(id), fields, nil)
}

// PatchOptions changes the global options given.
func (c *Client) PatchOptions(ctx context.Context, fields map[string]any) error {
	return c.do(ctx, http.MethodPatch, "/rest/config/options", fields, nil)
}

// PatchGUI changes the GUI settings given (Syncthing hashes a password it is sent in clear).
func (c *Client) PatchGUI(ctx context.Context, fields map[string]any) error {
	return c.do(ctx, http.MethodPatch, "/rest/config/gui", fields, nil)
}

// StatusError is an HTTP error from the API.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("syncthing API %s %s: %d %s", e.Method, e.Path, e.Code, strings.TrimSpace(e.Body))
}

func isNotFound(err error) bool {
	se, ok := err.(*StatusError)
	return ok && se.Code == http.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", c.APIKey)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("syncthing API %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("syncthing API %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: method, Path: strings.SplitN(path, "?", 2)[0], Code: resp.StatusCode, Body: string(data[:min(len(data), 300)])}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("syncthing API %s %s: %w", method, path, err)
	}
	return nil
}
