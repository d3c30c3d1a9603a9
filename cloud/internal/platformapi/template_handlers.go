package platformapi

import (
	"net/http"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

func (c *call) templateID() (tenancy.TemplateID, error) {
	id := c.query("templateId")
	if id == "" {
		return "", badRequest("templateId is required")
	}
	return tenancy.TemplateID(id), nil
}

// listTemplates is GET /organization/templates?orgId=.
func (c *call) listTemplates() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Templates(c.ctx, c.actor, tenancy.OrgID(org), p)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toTemplate))
}

func (c *call) loadTemplate() (tenancy.Template, error) {
	id, err := c.templateID()
	if err != nil {
		return tenancy.Template{}, err
	}
	return c.api.svc.Template(c.ctx, c.actor, id)
}

// getTemplate is GET /organization/template?templateId=.
func (c *call) getTemplate() error {
	t, err := c.loadTemplate()
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toTemplate(t))
}

// templatePart serves /organization/template/{datastreams,events,metafields}.
func templatePart(part func(templateJSON) any) func(*call) error {
	return func(c *call) error {
		t, err := c.loadTemplate()
		if err != nil {
			return err
		}
		return c.json(http.StatusOK, part(toTemplate(t)))
	}
}

type templateInput struct {
	Name           string                   `json:"name"`
	Description    string                   `json:"description"`
	BoardType      string                   `json:"boardType"`
	ConnectionType string                   `json:"connectionType"`
	Datastreams    []datastream.Datastream  `json:"datastreams"`
	Events         []datastream.Event       `json:"events"`
	SystemEvents   *datastream.SystemEvents `json:"systemEvents"`
	MetaFields     []datastream.MetaField   `json:"metaFields"`
}

func (in templateInput) toNew() tenancy.NewTemplate {
	return tenancy.NewTemplate{Def: datastream.Template{Name: in.Name, Datastreams: in.Datastreams, Events: in.Events,
		System: in.SystemEvents, MetaFields: in.MetaFields}, Description: in.Description, BoardType: in.BoardType, ConnectionType: in.ConnectionType}
}

// createTemplate is POST /organization/template/create (root org only).
func (c *call) createTemplate() error {
	var in templateInput
	if err := c.body(&in); err != nil {
		return err
	}
	t, err := c.api.svc.CreateTemplate(c.ctx, c.actor, in.toNew())
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toTemplate(t))
}

// updateTemplate is PUT /organization/template?templateId= (root only).
func (c *call) updateTemplate() error {
	id, err := c.templateID()
	if err != nil {
		return err
	}
	var in templateInput
	if err := c.body(&in); err != nil {
		return err
	}
	t, err := c.api.svc.UpdateTemplate(c.ctx, c.actor, id, in.toNew())
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toTemplate(t))
}

// deleteTemplate is DELETE /organization/template?templateId=.
func (c *call) deleteTemplate() error {
	id, err := c.templateID()
	if err != nil {
		return err
	}
	if err := c.api.svc.DeleteTemplate(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

// setTemplateEnabled is PUT /organization/template/enabled?orgId=&templateId=&enabled=.
func (c *call) setTemplateEnabled() error {
	org, err := c.id("orgId")
	if err != nil {
		return err
	}
	id, err := c.templateID()
	if err != nil {
		return err
	}
	if c.query("enabled") == "" {
		return badRequest("enabled is required")
	}
	on, err := c.boolean("enabled")
	if err != nil {
		return err
	}
	if err := c.api.svc.SetTemplateEnabled(c.ctx, c.actor, tenancy.OrgID(org), id, on); err != nil {
		return err
	}
	return c.noContent()
}

// listStaticTokens is GET /organization/static-tokens?orgId=.
func (c *call) listStaticTokens() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.StaticTokens(c.ctx, c.actor, tenancy.OrgID(org), "", p)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toStaticToken))
}

// createStaticTokens is POST /organization/static-tokens/create
// {templateId, orgId, count}.
func (c *call) createStaticTokens() error {
	var in struct {
		TemplateID tenancy.TemplateID `json:"templateId"`
		OrgID      tenancy.OrgID      `json:"orgId"`
		Count      int                `json:"count"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.TemplateID == "" || in.OrgID < 0 {
		return badRequest("templateId is required; orgId must be positive")
	}
	if in.Count == 0 {
		in.Count = 1
	}
	ts, err := c.api.svc.CreateStaticTokens(c.ctx, c.actor, in.OrgID, in.TemplateID, in.Count)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, mapSlice(ts, toStaticToken))
}

func (c *call) staticTokenID() (tenancy.StaticTokenID, error) {
	id, err := c.id("tokenId")
	return tenancy.StaticTokenID(id), err
}

// staticTokenDevice is GET /organization/static-token/device?tokenId=: the
// device and the AuthToken to flash.
func (c *call) staticTokenDevice() error {
	id, err := c.staticTokenID()
	if err != nil {
		return err
	}
	d, err := c.api.svc.StaticTokenDevice(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toDevice(d))
}

// claimStaticToken is POST /organization/static-token/claim {qrToken, name}.
func (c *call) claimStaticToken() error {
	var in struct {
		QR   string `json:"qrToken"`
		Name string `json:"name"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.QR == "" {
		return badRequest("qrToken is required")
	}
	d, err := c.api.svc.ClaimStaticToken(c.ctx, c.actor, in.QR, in.Name)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toDevice(d))
}

// disclaimStaticToken is POST /organization/static-token/disclaim?tokenId=.
func (c *call) disclaimStaticToken() error {
	id, err := c.staticTokenID()
	if err != nil {
		return err
	}
	if err := c.api.svc.DisclaimStaticToken(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

// deleteStaticToken is DELETE /organization/static-token?tokenId=.
func (c *call) deleteStaticToken() error {
	id, err := c.staticTokenID()
	if err != nil {
		return err
	}
	if err := c.api.svc.DeleteStaticToken(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}
