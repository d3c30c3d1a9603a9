package tenancy

import (
	"context"
	"errors"
	"strings"

	"outpost/shared/datastream"
)

// NewTemplate is a template definition plus its descriptive fields.
type NewTemplate struct {
	Def            datastream.Template // Def.ID is ignored on create
	Description    string
	BoardType      string
	ConnectionType string
}

// checkTemplate validates a definition (its ID already set) with the
// checks every transport relies on (datastream.Template.Check) and the
// cloud's event settings (CheckEvents).
func checkTemplate(def *datastream.Template, description string) error {
	if err := checkText("description", description, true); err != nil {
		return err
	}
	if err := validName("template name", strings.TrimSpace(def.Name), 1, 100); err != nil {
		return err
	}
	if err := errors.Join(def.Check(), def.CheckEvents()); err != nil {
		return &Error{Code: Invalid, Message: err.Error(), Err: err}
	}
	return nil
}

// treeTemplate loads a template of org's tree. Another tree's template
// answers exactly like a missing one (§11.7): its id must not be found to
// exist by a "not enabled here" refusal.
func (s *Service) treeTemplate(ctx context.Context, tx Tx, org OrgID, id TemplateID) (Template, error) {
	tm, err := tx.GetTemplate(ctx, id)
	if errIs(err, NotFound) || (err == nil && tm.RootID != s.tree.Load().Root(org)) {
		return Template{}, notFound("template")
	}
	return tm, err
}

// rootOnly refuses template edits by actors outside a root org (§5).
func (s *Service) rootOnly(a Actor) (OrgID, error) {
	t := s.tree.Load()
	if t.Depth(a.OrgID) != 1 {
		return 0, forbidden("templates can be created and edited only in the root organization")
	}
	if err := s.decide(a, ProductEdit, OrgResource(a.OrgID), "organization"); err != nil {
		return 0, err
	}
	return a.OrgID, nil
}

// CreateTemplate creates a template in the actor's root org (PRODUCT_EDIT,
// root only) and enables it there.
func (s *Service) CreateTemplate(ctx context.Context, a Actor, in NewTemplate) (Template, error) {
	root, err := s.rootOnly(a)
	if err != nil {
		return Template{}, err
	}
	id, err := s.newSecret("", 10)
	if err != nil {
		return Template{}, err
	}
	now := s.now().UTC()
	t := Template{ID: TemplateID("TMPL" + strings.ToUpper(id)), RootID: root, Def: in.Def, Description: in.Description,
		BoardType: in.BoardType, ConnectionType: in.ConnectionType, CreatedAt: now, UpdatedAt: now}
	t.Def.ID = string(t.ID)
	if err := checkTemplate(&t.Def, t.Description); err != nil {
		return Template{}, err
	}
	err = s.atomic(ctx, "create template", func(tx Tx) error {
		if err := tx.CreateTemplate(ctx, t); err != nil {
			return err
		}
		if err := tx.SetTemplateEnabled(ctx, root, t.ID, true); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, root, "template.create", "template", t.ID, nil, t)
	})
	return t, err
}

// UpdateTemplate replaces a template's definition (PRODUCT_EDIT, root only).
func (s *Service) UpdateTemplate(ctx context.Context, a Actor, id TemplateID, in NewTemplate) (Template, error) {
	root, err := s.rootOnly(a)
	if err != nil {
		return Template{}, err
	}
	in.Def.ID = string(id)
	if err := checkTemplate(&in.Def, in.Description); err != nil {
		return Template{}, err
	}
	var out Template
	err = s.atomic(ctx, "update template", func(tx Tx) error {
		before, err := tx.GetTemplate(ctx, id)
		if errIs(err, NotFound) || (err == nil && before.RootID != root) {
			return notFound("template")
		}
		if err != nil {
			return err
		}
		out = before
		out.Def, out.Description, out.BoardType, out.ConnectionType = in.Def, in.Description, in.BoardType, in.ConnectionType
		out.Def.ID, out.UpdatedAt = string(id), s.now().UTC()
		if err := tx.UpdateTemplate(ctx, out); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, root, "template.update", "template", id, before, out)
	})
	return out, err
}

// DeleteTemplate deletes a template no device uses (PRODUCT_EDIT, root).
func (s *Service) DeleteTemplate(ctx context.Context, a Actor, id TemplateID) error {
	root, err := s.rootOnly(a)
	if err != nil {
		return err
	}
	return s.atomic(ctx, "delete template", func(tx Tx) error {
		before, err := tx.GetTemplate(ctx, id)
		if errIs(err, NotFound) || (err == nil && before.RootID != root) {
			return notFound("template")
		}
		if err != nil {
			return err
		}
		used, err := tx.ListDevices(ctx, DeviceFilter{Scope: Scope{OrgID: root, Subtree: true}, TemplateID: id, Page: Page{Size: 1}})
		if err != nil {
			return err
		}
		if used.Total > 0 {
			return invalid("template is used by %d devices", used.Total)
		}
		if err := s.noteTemplateOrgs(ctx, tx, id); err != nil {
			return err
		}
		if err := tx.DeleteTemplate(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, root, "template.delete", "template", id, before, nil)
	})
}

// Template returns a template enabled in the actor's org (PRODUCT_VIEW).
func (s *Service) Template(ctx context.Context, a Actor, id TemplateID) (Template, error) {
	if err := s.decide(a, ProductView, Resource{OrgID: a.OrgID}, "template"); err != nil {
		return Template{}, err
	}
	on, err := s.store.TemplateEnabled(ctx, a.OrgID, id)
	if err != nil {
		return Template{}, internal("template enabled", err)
	}
	if !on {
		return Template{}, notFound("template")
	}
	t, err := s.store.GetTemplate(ctx, id)
	if errIs(err, NotFound) {
		return Template{}, notFound("template")
	}
	if err != nil {
		return Template{}, internal("get template", err)
	}
	return t, nil
}

// Templates lists the templates enabled in org (PRODUCT_VIEW there).
func (s *Service) Templates(ctx context.Context, a Actor, org OrgID, page Page) (List[Template], error) {
	if org == 0 {
		org = a.OrgID
	}
	page, err := page.Normalize()
	if err != nil {
		return List[Template]{}, err
	}
	if err := s.decide(a, ProductView, OrgResource(org), "organization"); err != nil {
		if errIs(err, Forbidden) && org == a.OrgID {
			return List[Template]{}, nil
		}
		return List[Template]{}, err
	}
	l, err := s.store.ListTemplates(ctx, TemplateFilter{RootID: s.tree.Load().Root(org), EnabledIn: org, Page: page})
	if err != nil {
		return l, internal("list templates", err)
	}
	return l, nil
}

// SetTemplateEnabled enables or disables a template in a sub-org
// (ORG_SETTINGS_ACCESS there). It moves no devices; it only governs which
// devices may be transferred or created there (§5). A template can only
// be enabled where the parent has it.
func (s *Service) SetTemplateEnabled(ctx context.Context, a Actor, org OrgID, id TemplateID, enabled bool) error {
	if err := s.decide(a, OrgSettingsAccess, OrgResource(org), "organization"); err != nil {
		return err
	}
	t := s.tree.Load()
	return s.atomic(ctx, "enable template", func(tx Tx) error {
		if _, err := s.treeTemplate(ctx, tx, org, id); err != nil {
			return err
		}
		if t.Depth(org) == 1 {
			return invalid("templates are always enabled in the root organization")
		}
		if enabled {
			on, err := tx.TemplateEnabled(ctx, t.Parent(org), id)
			if err != nil {
				return err
			}
			if !on {
				return invalid("the template is not enabled in the parent organization")
			}
		}
		if err := tx.SetTemplateEnabled(ctx, org, id, enabled); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, org, "template.enable", "template", id, nil, map[string]bool{"enabled": enabled})
	})
}
