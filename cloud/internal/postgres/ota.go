package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// The ota.Store methods (issue 18), as the SQLite store has them. They
// run outside tenancy.Tx: firmware and shipments are not part of the
// tenancy a gateway view versions.

var _ ota.Store = (*Store)(nil)

const firmwareCols = `id, root_id, template_id, name, sha256, md5, size, version, fw_type, build, created_at`

func scanFirmware(r scanner) (ota.Firmware, error) {
	var f ota.Firmware
	var sha, md []byte
	var created int64
	err := r.Scan(&f.ID, &f.RootID, &f.TemplateID, &f.Name, &sha, &md, &f.Size, &f.Version, &f.Type, &f.Build, &created)
	copy(f.SHA256[:], sha)
	copy(f.MD5[:], md)
	f.CreatedAt = fromMS(created)
	return f, err
}

// CreateFirmware inserts an uploaded firmware.
func (s *Store) CreateFirmware(ctx context.Context, f ota.Firmware) (ota.FirmwareID, error) {
	id, err := s.insertID(ctx, "create firmware", `INSERT INTO ota_firmware (root_id, template_id, name, sha256, md5, size,
		version, fw_type, build, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		int64(f.RootID), string(f.TemplateID), f.Name, f.SHA256[:], f.MD5[:], f.Size, f.Version, f.Type, f.Build, ms(f.CreatedAt))
	return ota.FirmwareID(id), err
}

// GetFirmware reads one firmware.
func (s *Store) GetFirmware(ctx context.Context, id ota.FirmwareID) (ota.Firmware, error) {
	f, err := scanFirmware(s.pool.QueryRow(ctx, `SELECT `+firmwareCols+` FROM ota_firmware WHERE id = $1`, int64(id)))
	return f, mapErr("firmware", err)
}

// ListFirmware lists a template's firmware, newest first.
func (s *Store) ListFirmware(ctx context.Context, root tenancy.OrgID, tmpl tenancy.TemplateID) ([]ota.Firmware, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+firmwareCols+` FROM ota_firmware WHERE root_id = $1 AND template_id = $2
		ORDER BY id DESC`, int64(root), string(tmpl))
	return collect(rows, err, "list firmware", scanFirmware)
}

const shipmentCols = `id, root_id, name, firmware_id, template_id, devices, "window", rule, attempts, user_controlled, state,
	created_at, updated_at`

func scanShipment(r scanner) (ota.Shipment, error) {
	var sh ota.Shipment
	var devs string
	var uc, created, updated int64
	err := r.Scan(&sh.ID, &sh.RootID, &sh.Name, &sh.FirmwareID, &sh.TemplateID, &devs, &sh.Window, &sh.Rule,
		&sh.Attempts, &uc, &sh.State, &created, &updated)
	if err != nil {
		return sh, err
	}
	sh.UserControlled, sh.CreatedAt, sh.UpdatedAt = uc != 0, fromMS(created), fromMS(updated)
	for _, p := range strings.Split(devs, ",") {
		if p == "" {
			continue
		}
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return sh, err
		}
		sh.Devices = append(sh.Devices, tenancy.DeviceID(id))
	}
	return sh, nil
}

// CreateShipment inserts a shipment; a name taken in the root is Conflict.
func (s *Store) CreateShipment(ctx context.Context, sh ota.Shipment) (ota.ShipmentID, error) {
	devs := make([]string, len(sh.Devices))
	for i, d := range sh.Devices {
		devs[i] = strconv.FormatInt(int64(d), 10)
	}
	id, err := s.insertID(ctx, "create shipment", `INSERT INTO ota_shipments (root_id, name, firmware_id, template_id, devices,
		"window", rule, attempts, user_controlled, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		int64(sh.RootID), sh.Name, int64(sh.FirmwareID), string(sh.TemplateID), strings.Join(devs, ","), string(sh.Window),
		string(sh.Rule), sh.Attempts, b2i(sh.UserControlled), string(sh.State), ms(sh.CreatedAt), ms(sh.UpdatedAt))
	return ota.ShipmentID(id), err
}

// GetShipment reads one shipment.
func (s *Store) GetShipment(ctx context.Context, id ota.ShipmentID) (ota.Shipment, error) {
	sh, err := scanShipment(s.pool.QueryRow(ctx, `SELECT `+shipmentCols+` FROM ota_shipments WHERE id = $1`, int64(id)))
	return sh, mapErr("shipment", err)
}

// ListShipments lists a root's shipments, newest first, optionally only
// those in states.
func (s *Store) ListShipments(ctx context.Context, root tenancy.OrgID, states ...ota.State) ([]ota.Shipment, error) {
	var a args
	q := `SELECT ` + shipmentCols + ` FROM ota_shipments WHERE root_id = ` + a.add(int64(root))
	if len(states) > 0 {
		ss := make([]string, len(states))
		for i, st := range states {
			ss[i] = string(st)
		}
		q += ` AND state = ANY(` + a.add(ss) + `)`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY id DESC`, a...)
	return collect(rows, err, "list shipments", scanShipment)
}

// SetShipmentState changes a shipment's state.
func (s *Store) SetShipmentState(ctx context.Context, id ota.ShipmentID, st ota.State, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE ota_shipments SET state = $1, updated_at = $2 WHERE id = $3`, string(st), ms(at), int64(id))
	return mustAffect("shipment", tag, err)
}

// AnyActiveShipment reports whether a shipment is live or paused.
func (s *Store) AnyActiveShipment(ctx context.Context) (bool, error) {
	var active bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ota_shipments WHERE state IN ('live', 'paused'))`).Scan(&active)
	return active, mapErr("active shipments", err)
}

// PutDeviceStatus inserts or replaces one device's status row; an
// approval once given stays.
func (s *Store) PutDeviceStatus(ctx context.Context, d ota.DeviceStatus) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ota_device_status (shipment_id, device_id, status, approved, attempts, version, detail,
		updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (shipment_id, device_id) DO UPDATE SET status = excluded.status,
		approved = greatest(ota_device_status.approved, excluded.approved), attempts = excluded.attempts,
		version = excluded.version, detail = excluded.detail, updated_at = excluded.updated_at`,
		int64(d.ShipmentID), int64(d.DeviceID), string(d.Status), b2i(d.Approved), d.Attempts, d.Version, []byte(d.Detail),
		ms(d.UpdatedAt))
	return mapErr("put device status", err)
}

// DeviceStatuses lists a shipment's status rows by device id.
func (s *Store) DeviceStatuses(ctx context.Context, id ota.ShipmentID) ([]ota.DeviceStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT shipment_id, device_id, status, approved, attempts, version, detail, updated_at
		FROM ota_device_status WHERE shipment_id = $1 ORDER BY device_id`, int64(id))
	return collect(rows, err, "device statuses", func(r scanner) (ota.DeviceStatus, error) {
		var d ota.DeviceStatus
		var approved, at int64
		var detail []byte
		err := r.Scan(&d.ShipmentID, &d.DeviceID, &d.Status, &approved, &d.Attempts, &d.Version, &detail, &at)
		d.Approved, d.Detail, d.UpdatedAt = approved != 0, string(detail), fromMS(at)
		return d, err
	})
}

// otaStatus stores a device's progress in a shipment as its gateway
// reported it (syncproto.KindOTA). The owner's approval, set in the cloud,
// is kept; a status for a shipment or device deleted since is dropped.
func (a *applier) otaStatus(it *syncproto.Item) error {
	st, ok := syncproto.DecodeOTA(it.Value)
	shipment, err := strconv.ParseInt(it.Name, 10, 64)
	if !ok || err != nil {
		return nil // validated by syncproto
	}
	return a.exec(`INSERT INTO ota_device_status (shipment_id, device_id, status, approved, attempts, version, detail, updated_at)
		SELECT s.id, d.id, $1, 0, $2, $3, $4, $5 FROM devices d, ota_shipments s WHERE d.uid = $6 AND s.id = $7
		ON CONFLICT (shipment_id, device_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
		version = excluded.version, detail = excluded.detail, updated_at = excluded.updated_at`,
		st.Status, st.Attempts, st.Version, []byte(st.Detail), it.TS, it.Device, shipment)
}
