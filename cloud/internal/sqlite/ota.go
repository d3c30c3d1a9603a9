package sqlite

import (
	"context"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// The ota.Store methods (issue 18). They run outside tenancy.Tx: firmware
// and shipments are not part of the tenancy a gateway view versions.

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
	res, err := s.exec(ctx, `INSERT INTO ota_firmware (root_id, template_id, name, sha256, md5, size, version, fw_type, build, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, int64(f.RootID), string(f.TemplateID), f.Name, f.SHA256[:], f.MD5[:],
		f.Size, f.Version, f.Type, f.Build, ms(f.CreatedAt))
	if err != nil {
		return 0, mapErr("create firmware", err)
	}
	id, err := res.LastInsertId()
	return ota.FirmwareID(id), mapErr("create firmware", err)
}

// GetFirmware reads one firmware.
func (s *Store) GetFirmware(ctx context.Context, id ota.FirmwareID) (ota.Firmware, error) {
	f, err := scanFirmware(s.queryRow(ctx, `SELECT `+firmwareCols+` FROM ota_firmware WHERE id = ?`, int64(id)))
	return f, mapErr("firmware", err)
}

// ListFirmware lists a template's firmware, newest first.
func (s *Store) ListFirmware(ctx context.Context, root tenancy.OrgID, tmpl tenancy.TemplateID) ([]ota.Firmware, error) {
	rows, err := s.query(ctx, `SELECT `+firmwareCols+` FROM ota_firmware WHERE root_id = ? AND template_id = ? ORDER BY id DESC`,
		int64(root), string(tmpl))
	if err != nil {
		return nil, mapErr("list firmware", err)
	}
	defer rows.Close()
	var out []ota.Firmware
	for rows.Next() {
		f, err := scanFirmware(rows)
		if err != nil {
			return nil, mapErr("list firmware", err)
		}
		out = append(out, f)
	}
	return out, mapErr("list firmware", rows.Err())
}

const shipmentCols = `id, root_id, name, firmware_id, template_id, devices, window, rule, attempts, user_controlled, state, created_at, updated_at`

func scanShipment(r scanner) (ota.Shipment, error) {
	var sh ota.Shipment
	var devs string
	var uc int
	var created, updated int64
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
	res, err := s.exec(ctx, `INSERT INTO ota_shipments (root_id, name, firmware_id, template_id, devices, window, rule, attempts,
		user_controlled, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(sh.RootID), sh.Name, int64(sh.FirmwareID), string(sh.TemplateID), strings.Join(devs, ","), string(sh.Window),
		string(sh.Rule), sh.Attempts, b2i(sh.UserControlled), string(sh.State), ms(sh.CreatedAt), ms(sh.UpdatedAt))
	if err != nil {
		return 0, mapErr("create shipment", err)
	}
	id, err := res.LastInsertId()
	return ota.ShipmentID(id), mapErr("create shipment", err)
}

// GetShipment reads one shipment.
func (s *Store) GetShipment(ctx context.Context, id ota.ShipmentID) (ota.Shipment, error) {
	sh, err := scanShipment(s.queryRow(ctx, `SELECT `+shipmentCols+` FROM ota_shipments WHERE id = ?`, int64(id)))
	return sh, mapErr("shipment", err)
}

// ListShipments lists a root's shipments, newest first, optionally only
// those in states.
func (s *Store) ListShipments(ctx context.Context, root tenancy.OrgID, states ...ota.State) ([]ota.Shipment, error) {
	q := `SELECT ` + shipmentCols + ` FROM ota_shipments WHERE root_id = ?`
	args := []any{int64(root)}
	if len(states) > 0 {
		q += ` AND state IN (?` + strings.Repeat(", ?", len(states)-1) + `)`
		for _, st := range states {
			args = append(args, string(st))
		}
	}
	rows, err := s.query(ctx, q+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, mapErr("list shipments", err)
	}
	defer rows.Close()
	var out []ota.Shipment
	for rows.Next() {
		sh, err := scanShipment(rows)
		if err != nil {
			return nil, mapErr("list shipments", err)
		}
		out = append(out, sh)
	}
	return out, mapErr("list shipments", rows.Err())
}

// SetShipmentState changes a shipment's state.
func (s *Store) SetShipmentState(ctx context.Context, id ota.ShipmentID, st ota.State, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE ota_shipments SET state = ?, updated_at = ? WHERE id = ?`, string(st), ms(at), int64(id))
	return mustAffect("shipment", res, err)
}

// AnyActiveShipment reports whether a shipment is live or paused.
func (s *Store) AnyActiveShipment(ctx context.Context) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ota_shipments WHERE state IN ('live', 'paused'))`).Scan(&n)
	return n == 1, mapErr("active shipments", err)
}

// PutDeviceStatus inserts or replaces one device's status row.
func (s *Store) PutDeviceStatus(ctx context.Context, d ota.DeviceStatus) error {
	_, err := s.exec(ctx, `INSERT INTO ota_device_status (shipment_id, device_id, status, approved, attempts, version, detail, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shipment_id, device_id) DO UPDATE SET status = excluded.status,
		approved = max(ota_device_status.approved, excluded.approved), attempts = excluded.attempts, version = excluded.version, detail = excluded.detail,
		updated_at = excluded.updated_at`, int64(d.ShipmentID), int64(d.DeviceID), string(d.Status), b2i(d.Approved),
		d.Attempts, d.Version, d.Detail, ms(d.UpdatedAt))
	return mapErr("put device status", err)
}

// DeviceStatuses lists a shipment's status rows by device id.
func (s *Store) DeviceStatuses(ctx context.Context, id ota.ShipmentID) ([]ota.DeviceStatus, error) {
	rows, err := s.query(ctx, `SELECT shipment_id, device_id, status, approved, attempts, version, detail, updated_at
		FROM ota_device_status WHERE shipment_id = ? ORDER BY device_id`, int64(id))
	if err != nil {
		return nil, mapErr("device statuses", err)
	}
	defer rows.Close()
	var out []ota.DeviceStatus
	for rows.Next() {
		var d ota.DeviceStatus
		var approved int
		var at int64
		if err := rows.Scan(&d.ShipmentID, &d.DeviceID, &d.Status, &approved, &d.Attempts, &d.Version, &d.Detail, &at); err != nil {
			return nil, mapErr("device statuses", err)
		}
		d.Approved, d.UpdatedAt = approved != 0, fromMS(at)
		out = append(out, d)
	}
	return out, mapErr("device statuses", rows.Err())
}

// otaStatus stores a device's progress in a shipment as its gateway
// reported it (syncproto.KindOTA). The owner's approval, set in the cloud,
// is kept; a status for a shipment or device deleted since is dropped.
func (a *applier) otaStatus(it *syncproto.Item) error {
	st, ok := syncproto.DecodeOTA(it.Value)
	if !ok {
		return nil // validated by syncproto
	}
	_, err := a.exec(`INSERT INTO ota_device_status (shipment_id, device_id, status, approved, attempts, version, detail, updated_at)
		SELECT s.id, d.id, ?, 0, ?, ?, ?, ? FROM devices d, ota_shipments s WHERE d.uid = ? AND s.id = ?
		ON CONFLICT (shipment_id, device_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
		version = excluded.version, detail = excluded.detail, updated_at = excluded.updated_at`,
		st.Status, st.Attempts, st.Version, st.Detail, it.TS, it.Device, it.Name)
	return err
}
