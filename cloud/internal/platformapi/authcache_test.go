package platformapi

import (
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

func TestAuthCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := newAuthCache(time.Second, func() time.Time { return now })
	a := tenancy.Actor{UserID: 7, OrgID: 3, RoleID: 2}

	_, ok, key, gen := c.get("ses_x")
	if ok {
		t.Fatal("hit on an empty cache")
	}
	c.put(key, a, gen)
	if got, ok, _, _ := c.get("ses_x"); !ok || got != a {
		t.Fatalf("get after put = %v %v", got, ok)
	}
	if _, ok, _, _ := c.get("ses_y"); ok {
		t.Fatal("another token hit")
	}
	now = now.Add(time.Second)
	if _, ok, _, _ := c.get("ses_x"); ok {
		t.Fatal("entry outlived its TTL")
	}

	// A lookup that raced with an invalidation is not stored.
	_, _, key, gen = c.get("ses_x")
	c.invalidate()
	c.put(key, a, gen)
	if _, ok, _, _ := c.get("ses_x"); ok {
		t.Fatal("stale lookup stored after invalidation")
	}
	_, _, key, gen = c.get("ses_x")
	c.put(key, a, gen)
	c.invalidate()
	if _, ok, _, _ := c.get("ses_x"); ok {
		t.Fatal("invalidate kept an entry")
	}

	off := newAuthCache(-1, func() time.Time { return now })
	_, _, key, gen = off.get("ses_x")
	off.put(key, a, gen)
	if _, ok, _, _ := off.get("ses_x"); ok {
		t.Fatal("disabled cache hit")
	}
}
