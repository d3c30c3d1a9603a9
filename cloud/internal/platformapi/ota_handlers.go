package platformapi

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
)

// firmwareUploadPath takes the image as the request body, bounded by the
// OTA service's image limit instead of MaxBodyBytes.
const firmwareUploadPath = "/api/v1/organization/firmware/upload"

func (c *call) ota() (*ota.Service, error) {
	if c.api.ota == nil {
		return nil, tenancy.Errorf(tenancy.NotFound, "firmware updates are not enabled on this server")
	}
	return c.api.ota, nil
}

type firmwareJSON struct {
	ID         int64     `json:"id"`
	TemplateID string    `json:"templateId"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"` // base64, as the x-sha256 download header
	MD5        string    `json:"md5"`    // hex, as x-md5
	Version    string    `json:"version"`
	Type       string    `json:"type"`
	Build      string    `json:"build"`
	CreatedAt  time.Time `json:"createdAt"`
}

func toFirmware(f ota.Firmware) firmwareJSON {
	return firmwareJSON{ID: int64(f.ID), TemplateID: string(f.TemplateID), Name: f.Name, Size: f.Size,
		SHA256: base64.StdEncoding.EncodeToString(f.SHA256[:]), MD5: hex.EncodeToString(f.MD5[:]),
		Version: f.Version, Type: f.Type, Build: f.Build, CreatedAt: f.CreatedAt}
}

// uploadFirmware is POST /organization/firmware/upload?templateId=&name=
// with the .bin as the body.
func (c *call) uploadFirmware() error {
	o, err := c.ota()
	if err != nil {
		return err
	}
	tmpl, err := c.templateID()
	if err != nil {
		return err
	}
	image, err := io.ReadAll(c.r.Body)
	if err != nil {
		return err
	}
	f, err := o.Upload(c.ctx, c.actor, tmpl, c.query("name"), image)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toFirmware(f))
}

// listFirmware is GET /organization/firmwares?templateId=.
func (c *call) listFirmware() error {
	o, err := c.ota()
	if err != nil {
		return err
	}
	tmpl, err := c.templateID()
	if err != nil {
		return err
	}
	l, err := o.Firmwares(c.ctx, c.actor, tmpl)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapSlice(l, toFirmware))
}

// getFirmware is GET /organization/firmware?firmwareId=.
func (c *call) getFirmware() error {
	o, err := c.ota()
	if err != nil {
		return err
	}
	id, err := c.id("firmwareId")
	if err != nil {
		return err
	}
	f, err := o.Firmware(c.ctx, c.actor, ota.FirmwareID(id))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toFirmware(f))
}

type shipmentJSON struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	FirmwareID     int64     `json:"firmwareId"`
	TemplateID     string    `json:"templateId"`
	DeviceIDs      []int64   `json:"deviceIds"`
	Window         string    `json:"window"`
	Rule           string    `json:"rule"`
	Attempts       int       `json:"attempts"`
	UserControlled bool      `json:"userControlled"`
	State          string    `json:"state"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func toShipment(s ota.Shipment) shipmentJSON {
	ids := make([]int64, len(s.Devices))
	for i, d := range s.Devices {
		ids[i] = int64(d)
	}
	return shipmentJSON{ID: int64(s.ID), Name: s.Name, FirmwareID: int64(s.FirmwareID), TemplateID: string(s.TemplateID),
		DeviceIDs: ids, Window: string(s.Window), Rule: string(s.Rule), Attempts: s.Attempts,
		UserControlled: s.UserControlled, State: string(s.State), CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

// createShipment is POST /organization/shipment/create.
func (c *call) createShipment() error {
	o, err := c.ota()
	if err != nil {
		return err
	}
	var in struct {
		Name           string  `json:"name"`
		FirmwareID     int64   `json:"firmwareId"`
		DeviceIDs      []int64 `json:"deviceIds"`
		Window         string  `json:"window"`
		Rule           string  `json:"rule"`
		Attempts       int     `json:"attempts"`
		UserControlled bool    `json:"userControlled"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.FirmwareID <= 0 {
		return badRequest("firmwareId is required")
	}
	devs := make([]tenancy.DeviceID, len(in.DeviceIDs))
	for i, d := range in.DeviceIDs {
		devs[i] = tenancy.DeviceID(d)
	}
	s, err := o.CreateShipment(c.ctx, c.actor, ota.NewShipment{Name: in.Name, FirmwareID: ota.FirmwareID(in.FirmwareID),
		Devices: devs, Window: ota.Window(in.Window), Rule: ota.Rule(in.Rule), Attempts: in.Attempts, UserControlled: in.UserControlled})
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toShipment(s))
}

// listShipments is GET /organization/shipments.
func (c *call) listShipments() error {
	o, err := c.ota()
	if err != nil {
		return err
	}
	l, err := o.Shipments(c.ctx, c.actor)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapSlice(l, toShipment))
}

func (c *call) shipmentID() (ota.ShipmentID, error) {
	id, err := c.id("shipmentId")
	return ota.ShipmentID(id), err
}

// shipment is the OTA service and the shipmentId of a shipment route.
func (c *call) shipment() (*ota.Service, ota.ShipmentID, error) {
	o, err := c.ota()
	if err != nil {
		return nil, 0, err
	}
	id, err := c.shipmentID()
	return o, id, err
}

// getShipment is GET /organization/shipment?shipmentId=.
func (c *call) getShipment() error {
	o, id, err := c.shipment()
	if err != nil {
		return err
	}
	s, err := o.Shipment(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toShipment(s))
}

// changeShipment serves POST /organization/shipment/{pause,resume,cancel}.
func changeShipment(act ota.Action) func(*call) error {
	return func(c *call) error {
		o, err := c.ota()
		if err != nil {
			return err
		}
		id, err := c.shipmentID()
		if err != nil {
			return err
		}
		s, err := o.Change(c.ctx, c.actor, id, act)
		if err != nil {
			return err
		}
		return c.json(http.StatusOK, toShipment(s))
	}
}

type shipmentDeviceJSON struct {
	DeviceID   int64     `json:"deviceId"`
	DeviceName string    `json:"deviceName"`
	Status     string    `json:"status"`
	Approved   bool      `json:"approved"`
	Attempts   int       `json:"attempts"`
	Version    string    `json:"version,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
}

// shipmentDevices is GET /organization/shipment/devices?shipmentId=.
func (c *call) shipmentDevices() error {
	o, id, err := c.shipment()
	if err != nil {
		return err
	}
	_, rows, err := o.Statuses(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapSlice(rows, func(r ota.Row) shipmentDeviceJSON {
		return shipmentDeviceJSON{DeviceID: int64(r.Device.ID), DeviceName: r.Device.Name, Status: string(r.Status),
			Approved: r.Approved, Attempts: r.Attempts, Version: r.Version, Detail: r.Detail, UpdatedAt: r.UpdatedAt}
	}))
}

// shipmentReport is GET /organization/shipment/report?shipmentId=: the
// status table as CSV.
func (c *call) shipmentReport() error {
	o, id, err := c.shipment()
	if err != nil {
		return err
	}
	_, rows, err := o.Statuses(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	c.w.Header().Set("Content-Disposition", `attachment; filename="shipment-`+c.query("shipmentId")+`.csv"`)
	return ota.WriteCSV(c.w, rows)
}

// approveShipment is POST /organization/shipment/approve?shipmentId=&deviceId=:
// the owner's "Update Firmware" of a user-controlled shipment.
func (c *call) approveShipment() error {
	o, id, err := c.shipment()
	if err != nil {
		return err
	}
	dev, err := c.id("deviceId")
	if err != nil {
		return err
	}
	if err := o.Approve(c.ctx, c.actor, id, tenancy.DeviceID(dev)); err != nil {
		return err
	}
	return c.noContent()
}
