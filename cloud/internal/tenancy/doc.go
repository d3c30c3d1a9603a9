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
// Many root trees may share one store; they never see each other. Only a
// super admin (an Admin of the first root, Tree.IsSuperAdmin) or the
// operator's command creates one. The Platform API's JSON shapes of the
// objects live here too (wire.go), because the audit log records objects
// in those same shapes.
//
// The package does no I/O: password hashing, mail and clocks are injected.
package tenancy
