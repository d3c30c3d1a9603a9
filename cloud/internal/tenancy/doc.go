// Package tenancy is the multi-tenant domain of the Outpost cloud: the
// organization tree, users, roles and permissions, templates, devices and
// their owners, static tokens, locations, tags, gateways, transfers,
// invitations, sessions, OAuth clients and the audit log (TENANCY.md).
//
// Authorization is a plain function over an in-memory snapshot of the tree
// (Decide); everything else goes through Service, whose methods take the
// acting principal (Actor) and return coded errors (*Error). Persistence is
// behind Store, declared here because this package is its consumer; stores
// live in their own packages and must pass tenancytest.Run.
//
// The package does no I/O: password hashing, mail and clocks are injected.
package tenancy
