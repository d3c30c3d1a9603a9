package platformapi

import "outpost/cloud/internal/ota"

// routeTable is every endpoint; New registers exactly these, and the
// OpenAPI test checks the document against them.
func (a *API) routeTable() []route {
	const v1 = "/api/v1"
	const o = v1 + "/organization"
	return []route{
		// Authentication.
		{"POST", "/oauth2/token", public, (*call).oauthToken},
		{"POST", v1 + "/auth/login", public, (*call).login},
		{"POST", v1 + "/auth/logout", peopleOnly, (*call).logout},
		{"GET", v1 + "/auth/me", peopleOnly, (*call).me},
		{"POST", v1 + "/auth/password", peopleOnly, (*call).changePassword},
		{"POST", v1 + "/auth/password-reset", public, (*call).requestReset},
		{"POST", v1 + "/auth/password-reset/confirm", public, (*call).confirmReset},
		{"POST", v1 + "/invitations/accept", public, (*call).acceptInvitation},
		{"GET", v1 + "/openapi.json", public, a.openapi},
		{"GET", v1 + "/permissions", anyone, (*call).permissions},

		// Organizations.
		{"GET", o + "/profile", anyone, (*call).orgProfile},
		{"GET", o, anyone, (*call).getOrg},
		{"PUT", o, anyone, (*call).updateOrg},
		{"DELETE", o, anyone, (*call).deleteOrg},
		{"GET", o + "/search", anyone, (*call).searchOrgs},
		{"GET", o + "/sub-organizations", anyone, (*call).subOrgs},
		{"POST", o + "/create", anyone, (*call).createOrg},
		{"POST", o + "/transfer", anyone, (*call).transferOrg},
		{"POST", v1 + "/trees/create", peopleOnly, (*call).createTree},
		{"GET", o + "/audit", anyone, (*call).audit},

		// Devices.
		{"GET", o + "/devices", anyone, (*call).listDevices},
		{"GET", o + "/search/devices", anyone, (*call).searchDevices},
		{"GET", o + "/device", anyone, (*call).getDeviceLive},
		{"GET", o + "/device/baseInfo", anyone, (*call).getDevice},
		{"GET", o + "/device/by-owner", anyone, (*call).devicesByOwner},
		{"POST", o + "/device/create", anyone, (*call).createDevice},
		{"PUT", o + "/device", anyone, (*call).renameDevice},
		{"DELETE", o + "/device", anyone, (*call).deleteDevice},
		{"DELETE", o + "/device/owner", anyone, (*call).removeOwner},
		{"POST", o + "/device/transfer", anyone, (*call).transferDevice},
		{"POST", o + "/device/token", anyone, (*call).regenerateToken},
		{"GET", o + "/device/tags", anyone, (*call).deviceTags},
		{"GET", o + "/device/online", anyone, (*call).deviceOnline},
		{"GET", o + "/device/datastreams", anyone, (*call).deviceValues},
		{"POST", o + "/device/datastream", anyone, (*call).writeDatastream},
		{"POST", o + "/device/datastreams", anyone, (*call).writeDatastreams},
		{"GET", o + "/device/datastream/history", anyone, (*call).deviceHistory},
		{"GET", o + "/device/timeline", anyone, (*call).deviceTimeline},
		{"POST", o + "/device/event/resolve", anyone, (*call).resolveEvent},
		{"PUT", o + "/device/tags", anyone, (*call).setDeviceTags},
		{"GET", o + "/user/tags", anyone, (*call).userTags},
		{"PUT", o + "/user/tags", anyone, (*call).setUserTags},
		{"GET", o + "/device/metafield", anyone, (*call).deviceMetaFields},
		{"POST", o + "/device/metafield", anyone, (*call).setDeviceMetaField},
		{"GET", o + "/tags", anyone, (*call).listTags},
		{"POST", o + "/tags/create", anyone, (*call).createTag},
		{"DELETE", o + "/tag", anyone, (*call).deleteTag},

		// Automations.
		{"GET", o + "/automations", anyone, (*call).listAutomations},
		{"GET", o + "/automation", anyone, (*call).getAutomation},
		{"PUT", o + "/automation", anyone, (*call).saveAutomation},
		{"DELETE", o + "/automation", anyone, (*call).deleteAutomation},
		{"GET", o + "/automation/runs", anyone, (*call).automationRuns},
		{"POST", o + "/automation/run", anyone, (*call).runAutomation},

		// Webhooks.
		{"GET", o + "/webhooks", anyone, (*call).listWebhooks},
		{"PUT", o + "/webhook", anyone, (*call).saveWebhook},
		{"DELETE", o + "/webhook", anyone, (*call).deleteWebhook},
		{"GET", o + "/webhook/deliveries", anyone, (*call).webhookDeliveries},
		{"POST", o + "/webhook/test", anyone, (*call).testWebhook},

		// Users.
		{"GET", o + "/users", anyone, (*call).listUsers},
		{"GET", o + "/search/users", anyone, (*call).searchUsers},
		{"GET", o + "/user", anyone, (*call).getUser},
		{"PUT", o + "/user", anyone, (*call).updateUser},
		{"DELETE", o + "/user", anyone, (*call).deleteUser},
		{"POST", o + "/users/create-in-org", anyone, (*call).createUserInOrg},
		{"POST", o + "/users/invite", anyone, (*call).inviteUser},
		{"POST", o + "/users/invite/csv", anyone, (*call).inviteCSV},
		{"POST", o + "/users/transfer", anyone, (*call).transferUser},
		{"PUT", o + "/users/role", anyone, (*call).setUserRole},
		{"POST", o + "/users/suspend", anyone, suspendHandler(true)},
		{"POST", o + "/users/unsuspend", anyone, suspendHandler(false)},
		{"POST", o + "/users/logout", anyone, (*call).forceLogout},
		{"POST", o + "/users/password", anyone, (*call).setUserPassword},

		// Roles and permissions.
		{"GET", o + "/roles", anyone, (*call).listRoles},
		{"POST", o + "/roles/create", anyone, (*call).createRole},
		{"PUT", o + "/role", anyone, (*call).renameRole},
		{"DELETE", o + "/role", anyone, (*call).deleteRole},
		{"PUT", o + "/role/permissions", anyone, (*call).setRolePermissions},

		// Templates.
		{"GET", o + "/templates", anyone, (*call).listTemplates},
		{"GET", o + "/template", anyone, (*call).getTemplate},
		{"GET", o + "/template/datastreams", anyone, templatePart(func(t templateJSON) any { return t.Datastreams })},
		{"GET", o + "/template/events", anyone, templatePart(func(t templateJSON) any { return t.Events })},
		{"GET", o + "/template/metafields", anyone, templatePart(func(t templateJSON) any { return t.MetaFields })},
		{"POST", o + "/template/create", anyone, (*call).createTemplate},
		{"PUT", o + "/template", anyone, (*call).updateTemplate},
		{"DELETE", o + "/template", anyone, (*call).deleteTemplate},
		{"PUT", o + "/template/enabled", anyone, (*call).setTemplateEnabled},

		// Static tokens.
		{"GET", o + "/static-tokens", anyone, (*call).listStaticTokens},
		{"POST", o + "/static-tokens/create", anyone, (*call).createStaticTokens},
		{"GET", o + "/static-token/device", anyone, (*call).staticTokenDevice},
		{"POST", o + "/static-token/claim", peopleOnly, (*call).claimStaticToken},
		{"POST", o + "/static-token/disclaim", anyone, (*call).disclaimStaticToken},
		{"DELETE", o + "/static-token", anyone, (*call).deleteStaticToken},

		// Locations.
		{"GET", o + "/locations", anyone, (*call).listLocations},
		{"GET", o + "/location", anyone, (*call).getLocation},
		{"POST", o + "/location/create", anyone, (*call).createLocation},
		{"PUT", o + "/location", anyone, (*call).updateLocation},
		{"DELETE", o + "/location", anyone, (*call).deleteLocation},
		{"PUT", o + "/location/users", anyone, (*call).assignLocationUsers},

		// Gateways (Outpost sites, §11.8).
		{"GET", o + "/gateways", anyone, (*call).listGateways},
		{"GET", o + "/gateway", anyone, (*call).getGateway},
		{"POST", o + "/gateway/claim", anyone, (*call).claimGateway},
		{"POST", o + "/gateway/release", anyone, (*call).releaseGateway},

		// Firmware over the air (Blynk.Air): firmware and shipments.
		{"POST", o + "/firmware/upload", anyone, (*call).uploadFirmware},
		{"GET", o + "/firmwares", anyone, (*call).listFirmware},
		{"GET", o + "/firmware", anyone, (*call).getFirmware},
		{"GET", o + "/shipments", anyone, (*call).listShipments},
		{"GET", o + "/shipment", anyone, (*call).getShipment},
		{"POST", o + "/shipment/create", anyone, (*call).createShipment},
		{"POST", o + "/shipment/pause", anyone, changeShipment(ota.Pause)},
		{"POST", o + "/shipment/resume", anyone, changeShipment(ota.Resume)},
		{"POST", o + "/shipment/cancel", anyone, changeShipment(ota.Cancel)},
		{"GET", o + "/shipment/devices", anyone, (*call).shipmentDevices},
		{"GET", o + "/shipment/report", anyone, (*call).shipmentReport},
		{"POST", o + "/shipment/approve", anyone, (*call).approveShipment},

		// Developer zone: OAuth clients.
		{"GET", o + "/oauth-clients", anyone, (*call).listOAuthClients},
		{"POST", o + "/oauth-clients/create", anyone, (*call).createOAuthClient},
		{"DELETE", o + "/oauth-client", anyone, (*call).deleteOAuthClient},
	}
}
