package platformapi

import (
	"context"
	"net/http"
	"strconv"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
)

// Webhooks is what the API does with an organization's webhooks (the
// cloud passes cloud/internal/webhooks' Service; nil: the routes answer
// 404). Secrets come back redacted.
type Webhooks interface {
	List(ctx context.Context, a tenancy.Actor, org int64) ([]webhooks.Webhook, error)
	Save(ctx context.Context, a tenancy.Actor, org int64, w *webhooks.Webhook) (created bool, err error)
	Delete(ctx context.Context, a tenancy.Actor, id int64) error
	Deliveries(ctx context.Context, a tenancy.Actor, id int64, limit int) ([]webhooks.Delivery, error)
	TestSend(ctx context.Context, a tenancy.Actor, id int64) (webhooks.TestResult, error)
}

func (c *call) webhooks() (Webhooks, error) {
	if c.api.webhooks == nil {
		return nil, tenancy.Errorf(tenancy.NotFound, "no webhooks on this cloud")
	}
	return c.api.webhooks, nil
}

// listWebhooks is GET /organization/webhooks?orgId=.
func (c *call) listWebhooks() error {
	wh, err := c.webhooks()
	if err != nil {
		return err
	}
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	ws, err := wh.List(c.ctx, c.actor, org)
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []webhooks.Webhook{}
	}
	return c.json(http.StatusOK, ws)
}

// saveWebhook is PUT /organization/webhook?orgId=: id 0 creates (201).
func (c *call) saveWebhook() error {
	wh, err := c.webhooks()
	if err != nil {
		return err
	}
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	var w webhooks.Webhook
	if err := c.body(&w); err != nil {
		return err
	}
	created, err := wh.Save(c.ctx, c.actor, org, &w)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.json(status, webhooks.Redact(w))
}

// deleteWebhook is DELETE /organization/webhook?id=.
func (c *call) deleteWebhook() error {
	wh, err := c.webhooks()
	if err != nil {
		return err
	}
	id, err := c.id("id")
	if err != nil {
		return err
	}
	if err := wh.Delete(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

type deliveryJSON struct {
	ID        int64          `json:"id"`
	State     string         `json:"state"`
	Attempts  int            `json:"attempts"`
	NextAt    int64          `json:"nextAt"`
	Code      int            `json:"code"`
	LatencyMS int64          `json:"latencyMs"`
	Error     string         `json:"error,omitempty"`
	Event     webhooks.Event `json:"event"`
}

// webhookDeliveries is GET /organization/webhook/deliveries?id=&limit=.
func (c *call) webhookDeliveries() error {
	wh, err := c.webhooks()
	if err != nil {
		return err
	}
	id, err := c.id("id")
	if err != nil {
		return err
	}
	limit := 50
	if s := c.query("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil {
			return badRequest("limit must be an integer")
		}
	}
	ds, err := wh.Deliveries(c.ctx, c.actor, id, limit)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = deliveryJSON{ID: d.ID, State: d.State, Attempts: d.Attempts, NextAt: d.NextAt.UnixMilli(), Code: d.Code,
			LatencyMS: d.LatencyMS, Error: d.Error, Event: d.Event}
	}
	return c.json(http.StatusOK, out)
}

// testWebhook is POST /organization/webhook/test?id=: one request now with
// sample values; the receiver's answer (or why none came) is the result,
// 200 either way.
func (c *call) testWebhook() error {
	wh, err := c.webhooks()
	if err != nil {
		return err
	}
	id, err := c.id("id")
	if err != nil {
		return err
	}
	res, err := wh.TestSend(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, res)
}
