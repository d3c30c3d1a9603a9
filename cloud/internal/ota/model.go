// Package ota is the cloud's side of firmware over the air (issue 18):
// firmware images uploaded per template, read for their blnkinf tag and
// kept content-addressed by SHA-256 behind Blobs; shipments (a template,
// an optional device list, a time window, a version rule, an attempts
// limit, user control) with their lifecycle; the per-device statuses the
// gateways report; and what each gateway is sent of them.
//
// Firmware and shipments belong to a root organization, like templates:
// only the root edits them (PRODUCT_EDIT), everyone who may view the
// template (PRODUCT_VIEW) lists them. Persistence is the consumer-declared
// Store; authorization reuses tenancy.Service.
package ota

import (
	"time"

	"outpost/cloud/internal/tenancy"
)

// FirmwareID identifies an uploaded firmware.
type FirmwareID int64

// Firmware is one uploaded image and what its tag says.
type Firmware struct {
	ID         FirmwareID
	RootID     tenancy.OrgID
	TemplateID tenancy.TemplateID
	Name       string // the uploaded file's name
	SHA256     [32]byte
	MD5        [16]byte
	Size       int64
	Version    string // tag "mcu"
	Type       string // tag "fw-type"
	Build      string // tag "build"
	CreatedAt  time.Time
}

// ShipmentID identifies a shipment.
type ShipmentID int64

// Window is a preferred time of day, in the device's timezone.
type Window string

// Preferred times (BLYNK-PLATFORM.md §1).
const (
	AnyTime   Window = "any"
	Night     Window = "night"     // 0–6
	Morning   Window = "morning"   // 6–12
	Afternoon Window = "afternoon" // 12–18
	Evening   Window = "evening"   // 18–24
)

// Rule says which devices take the update.
type Rule string

// Version rules.
const (
	LowerVersion Rule = "lower_version" // the device's version is lower (dotted, numeric); the default
	OtherBuild   Rule = "other_build"   // the device reports another build string
)

// State is a shipment's lifecycle state.
type State string

// Shipment states: live → paused ⇄ live; live|paused → cancelled (final).
const (
	Live      State = "live"
	Paused    State = "paused"
	Cancelled State = "cancelled"
)

// Shipment sends one firmware to the devices of one template.
type Shipment struct {
	ID         ShipmentID
	RootID     tenancy.OrgID
	Name       string
	FirmwareID FirmwareID
	TemplateID tenancy.TemplateID
	// Devices limits the shipment to these devices; empty means every
	// device of the template, including devices created later.
	Devices []tenancy.DeviceID
	Window  Window
	Rule    Rule
	// Attempts is the number of downloads a device may make per 24 h
	// before it is marked "download limit reached".
	Attempts int
	// UserControlled holds each device in "awaiting user action" until
	// its owner (or an editor) approves it.
	UserControlled bool
	State          State
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Status is a device's progress in a shipment (Blynk's statuses).
type Status string

// Per-device statuses. Pending is Outpost's: targeted, nothing reported.
const (
	Pending          Status = "pending"
	AwaitingUser     Status = "awaiting_user"
	RequestSent      Status = "request_sent"
	FirmwareRequest  Status = "firmware_requested"
	Downloaded       Status = "downloaded"
	Success          Status = "success"
	UploadFailure    Status = "upload_failure"
	Rollback         Status = "rollback"
	TypeMismatch     Status = "type_mismatch"
	VersionMismatch  Status = "version_mismatch"
	DownloadLimit    Status = "download_limit"
	AlreadyUpToDate  Status = "up_to_date"
	StatusUnknownDev Status = "unknown_device"
)

// DeviceStatus is one row of a shipment's status table.
type DeviceStatus struct {
	ShipmentID ShipmentID
	DeviceID   tenancy.DeviceID
	Status     Status
	// Approved is set when the owner approved a user-controlled update.
	Approved  bool
	Attempts  int    // downloads counted by the gateway
	Version   string // the version the device last reported
	Detail    string
	UpdatedAt time.Time
}
