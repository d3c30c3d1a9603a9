package tenancy

import (
	"context"
	"slices"
	"strings"
)

// Tags lists the tags of org (TAGS_MANAGE: tags are shown to
// administrators only, §6).
func (s *Service) Tags(ctx context.Context, a Actor, org OrgID) ([]Tag, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, TagsManage, OrgResource(org), "organization"); err != nil {
		return nil, err
	}
	ts, err := s.store.ListTags(ctx, org)
	if err != nil {
		return nil, internal("list tags", err)
	}
	return ts, nil
}

// CreateTag creates a tag in org (TAGS_MANAGE); at most MaxTagsPerOrg.
func (s *Service) CreateTag(ctx context.Context, a Actor, org OrgID, name string) (Tag, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, TagsManage, OrgResource(org), "organization"); err != nil {
		return Tag{}, err
	}
	name = strings.TrimSpace(name)
	if err := validName("tag name", name, 1, 64); err != nil {
		return Tag{}, err
	}
	t := Tag{OrgID: org, Name: name, OwnerID: a.UserID}
	err := s.atomic(ctx, "create tag", func(tx Tx) error {
		ts, err := tx.ListTags(ctx, org)
		if err != nil {
			return err
		}
		if len(ts) >= MaxTagsPerOrg {
			return Errorf(LimitReached, "at most %d tags per organization", MaxTagsPerOrg)
		}
		if err := tx.CreateTag(ctx, &t); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "tag %q is already in use", name)
			}
			return err
		}
		return s.audit(ctx, tx, a, org, "tag.create", "tag", t.ID, nil, t)
	})
	return t, err
}

// RenameTag renames a tag (TAGS_MANAGE in its org); the devices keep it.
func (s *Service) RenameTag(ctx context.Context, a Actor, id TagID, name string) (Tag, error) {
	name = strings.TrimSpace(name)
	if err := validName("tag name", name, 1, 64); err != nil {
		return Tag{}, err
	}
	var t Tag
	err := s.atomic(ctx, "rename tag", func(tx Tx) error {
		before, err := tx.GetTag(ctx, id)
		if errIs(err, NotFound) {
			return notFound("tag")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, TagsManage, Resource{OrgID: before.OrgID}, "tag"); err != nil {
			return err
		}
		if err := tx.RenameTag(ctx, id, name); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "tag %q is already in use", name)
			}
			return err
		}
		t = before
		t.Name = name
		return s.audit(ctx, tx, a, t.OrgID, "tag.rename", "tag", id, before, t)
	})
	return t, err
}

// DeleteTag deletes a tag and removes it from every device (TAGS_MANAGE).
func (s *Service) DeleteTag(ctx context.Context, a Actor, id TagID) error {
	return s.atomic(ctx, "delete tag", func(tx Tx) error {
		t, err := tx.GetTag(ctx, id)
		if errIs(err, NotFound) {
			return notFound("tag")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, TagsManage, Resource{OrgID: t.OrgID}, "tag"); err != nil {
			return err
		}
		if err := tx.DeleteTag(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, t.OrgID, "tag.delete", "tag", id, t, nil)
	})
}

// SetDeviceTags replaces a device's tags (TAGS_MANAGE and device edit);
// at most MaxTagsPerDevice, each from the device's org or an ancestor in
// scope.
func (s *Service) SetDeviceTags(ctx context.Context, a Actor, id DeviceID, tags []TagID) error {
	if len(tags) > MaxTagsPerDevice {
		return Errorf(LimitReached, "at most %d tags per device", MaxTagsPerDevice)
	}
	return s.atomic(ctx, "tag device", func(tx Tx) error {
		d, err := s.loadDevice(ctx, tx, a, id, OrgDevicesEdit)
		if err != nil {
			return err
		}
		if err := s.decide(a, TagsManage, Resource{OrgID: d.OrgID}, "device"); err != nil {
			return err
		}
		t := s.tree.Load()
		for _, tid := range tags {
			tg, err := tx.GetTag(ctx, tid)
			if errIs(err, NotFound) || (err == nil && (!t.Within(tg.OrgID, d.OrgID) || !t.InScope(a, tg.OrgID))) {
				return notFound("tag")
			}
			if err != nil {
				return err
			}
		}
		if err := tx.SetDeviceTags(ctx, id, tags); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.tags", "device", id, nil, tags)
	})
}

// DeviceTags lists a device's tags (device view and TAGS_MANAGE).
func (s *Service) DeviceTags(ctx context.Context, a Actor, id DeviceID) ([]Tag, error) {
	d, err := s.loadDevice(ctx, s.store, a, id, OrgDevicesView)
	if err != nil {
		return nil, internal("get device", err)
	}
	if err := s.decide(a, TagsManage, Resource{OrgID: d.OrgID}, "device"); err != nil {
		return nil, err
	}
	ts, err := s.store.DeviceTags(ctx, id)
	if err != nil {
		return nil, internal("device tags", err)
	}
	return ts, nil
}

// SetUserTags replaces a user's tags (TAGS_MANAGE and USERS_EDIT in the
// user's org); at most MaxTagsPerUser, each from the user's org or an
// ancestor in scope. The audit entry holds the tag ids before and after
// ({"tagIds": [...]}, an object like every audit state).
func (s *Service) SetUserTags(ctx context.Context, a Actor, id UserID, tags []TagID) error {
	if len(tags) > MaxTagsPerUser {
		return Errorf(LimitReached, "at most %d tags per user", MaxTagsPerUser)
	}
	tags = slices.Clone(tags)
	slices.Sort(tags)
	tags = slices.Compact(tags)
	return s.atomic(ctx, "tag user", func(tx Tx) error {
		u, err := s.getUser(ctx, tx, a, id, OrgUsersView)
		if err != nil {
			return err
		}
		for _, p := range []Permission{TagsManage, UsersEdit} { // the tags' key named first
			if err := s.decide(a, p, Resource{OrgID: u.OrgID}, "user"); err != nil {
				return err
			}
		}
		t := s.tree.Load()
		for _, tid := range tags {
			tg, err := tx.GetTag(ctx, tid)
			if errIs(err, NotFound) || (err == nil && (!t.Within(tg.OrgID, u.OrgID) || !t.InScope(a, tg.OrgID))) {
				return notFound("tag")
			}
			if err != nil {
				return err
			}
		}
		had, err := tx.UserTags(ctx, []UserID{id})
		if err != nil {
			return err
		}
		before := make([]TagID, 0, len(had[id]))
		for _, tg := range had[id] {
			before = append(before, tg.ID)
		}
		if err := tx.SetUserTags(ctx, id, tags); err != nil {
			return err
		}
		if tags == nil {
			tags = []TagID{}
		}
		return s.audit(ctx, tx, a, u.OrgID, "user.tags", "user", id, map[string]any{"tagIds": before}, map[string]any{"tagIds": tags})
	})
}

// UserTags lists a user's tags (ORG_USERS_VIEW and TAGS_MANAGE).
func (s *Service) UserTags(ctx context.Context, a Actor, id UserID) ([]Tag, error) {
	u, err := s.getUser(ctx, s.store, a, id, OrgUsersView)
	if err != nil {
		return nil, internal("get user", err)
	}
	if err := s.decide(a, TagsManage, Resource{OrgID: u.OrgID}, "user"); err != nil {
		return nil, err
	}
	m, err := s.store.UserTags(ctx, []UserID{id})
	if err != nil {
		return nil, internal("user tags", err)
	}
	if m[id] == nil {
		return []Tag{}, nil
	}
	return m[id], nil
}

// UsersTags returns the tags of the listed users (a page of Users) the
// actor may see them of: TAGS_MANAGE in the user's org; others are left
// out, as are users without tags.
func (s *Service) UsersTags(ctx context.Context, a Actor, users []User) (map[UserID][]Tag, error) {
	ids := make([]UserID, 0, len(users))
	for _, u := range users {
		if s.decide(a, OrgUsersView, Resource{OrgID: u.OrgID}, "user") == nil && s.decide(a, TagsManage, Resource{OrgID: u.OrgID}, "user") == nil {
			ids = append(ids, u.ID)
		}
	}
	if len(ids) == 0 {
		return map[UserID][]Tag{}, nil
	}
	m, err := s.store.UserTags(ctx, ids)
	if err != nil {
		return nil, internal("user tags", err)
	}
	return m, nil
}
