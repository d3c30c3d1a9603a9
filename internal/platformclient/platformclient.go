// Package platformclient is a small client of the cloud's Platform API
// for the programs that act as a person would: the one-process demo site
// (scripts/site) and cross-system tests claim a gateway through it,
// exactly as an installer does with curl or the console.
package platformclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client is a person logged in to the Platform API.
type Client struct {
	base  string
	http  *http.Client
	token string
	// OrgID is the organization of the person logged in.
	OrgID int64
}

// Login logs in with a person's email and password (POST
// /api/v1/auth/login); client nil means http.DefaultClient.
func Login(ctx context.Context, client *http.Client, baseURL, email, password string) (*Client, error) {
	if client == nil {
		client = http.DefaultClient
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: client}
	var sess struct {
		Token string `json:"token"`
		User  struct {
			OrgID int64 `json:"orgId"`
		} `json:"user"`
	}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &sess); err != nil {
		return nil, err
	}
	if sess.Token == "" {
		return nil, fmt.Errorf("platformclient: login: no token in the answer")
	}
	c.token, c.OrgID = sess.Token, sess.User.OrgID
	return c, nil
}

// Do sends in (JSON, unless nil) to path and decodes a 2xx answer into
// out (unless nil); any other status is an error carrying the body.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("platformclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("platformclient: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("platformclient: %s %s: answer: %w", method, path, err)
		}
	}
	return nil
}

// ClaimGateway claims the gateway showing claimCode into the organization
// named orgName directly under the person's own, creating it first when
// there is none, and returns that organization's id.
func (c *Client) ClaimGateway(ctx context.Context, claimCode, orgName string) (int64, error) {
	org, err := c.subOrg(ctx, orgName)
	if err != nil {
		return 0, err
	}
	if org == 0 {
		var created struct {
			ID int64 `json:"id"`
		}
		if err := c.Do(ctx, http.MethodPost, "/api/v1/organization/create",
			map[string]any{"name": orgName, "parentId": c.OrgID}, &created); err != nil {
			return 0, err
		}
		org = created.ID
	}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/organization/gateway/claim",
		map[string]any{"claimCode": claimCode, "orgId": org}, nil); err != nil {
		return 0, err
	}
	return org, nil
}

// subOrg finds the direct sub-organization named name (0: none).
func (c *Client) subOrg(ctx context.Context, name string) (int64, error) {
	for page := 0; ; page++ {
		var l struct {
			Content []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"content"`
		}
		q := url.Values{"orgId": {fmt.Sprint(c.OrgID)}, "page": {fmt.Sprint(page)}, "size": {"100"}}
		if err := c.Do(ctx, http.MethodGet, "/api/v1/organization/sub-organizations?"+q.Encode(), nil, &l); err != nil {
			return 0, err
		}
		for _, o := range l.Content {
			if o.Name == name {
				return o.ID, nil
			}
		}
		if len(l.Content) < 100 {
			return 0, nil
		}
	}
}
