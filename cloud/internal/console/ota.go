package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
)

// firmwareUploadPath takes a multipart form with the image; its body may
// be as large as the OTA service's image limit (bodyLimit).
const firmwareUploadPath = "/firmware/upload"

// otaRoutes are the firmware pages (Blynk.Air): firmware per template
// (uploaded from the page) and shipments, each shipment's per-device
// status table with its approvals, and CSV report.
func (c *Console) otaRoutes(mux *http.ServeMux) {
	mux.Handle("GET /firmware", c.auth(c.firmwarePage))
	mux.Handle("POST "+firmwareUploadPath, c.auth(c.firmwareUpload))
	mux.Handle("POST /firmware/shipments/{id}/approve", c.auth(c.shipmentApprove))
	mux.Handle("POST /firmware/shipments", c.auth(c.shipmentCreate))
	mux.Handle("GET /firmware/shipments/{id}", c.auth(c.shipmentPage))
	mux.Handle("GET /firmware/shipments/{id}/report.csv", c.auth(c.shipmentReport))
	mux.Handle("POST /firmware/shipments/{id}/{action}", c.auth(c.shipmentAction))
}

// canFirmware reports whether the firmware pages are for this user: a
// person of a root organization who may view templates.
func (c *Console) canFirmware(s *session) bool {
	return c.ota != nil && s.tree.Depth(s.actor.OrgID) == 1 && s.perms.Has(tenancy.ProductView)
}

type firmwareGroup struct {
	Template tenancy.Template
	Firmware []ota.Firmware
}

type shipmentRow struct {
	ota.Shipment
	Firmware ota.Firmware
}

type firmwareData struct {
	Groups        []firmwareGroup
	Shipments     []shipmentRow
	CanEdit       bool
	Options       []option // firmware to ship
	Form          shipmentForm
	Upload        uploadForm
	MaxImage      string // the upload limit for people
	MaxImageBytes int64
}

type uploadForm struct {
	Template string
	Error    string // shown at the upload form
}

type shipmentForm struct {
	Name, Window, Rule, Attempts string
	UserControlled               bool
}

// firmwarePage is GET /firmware.
func (c *Console) firmwarePage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderFirmware(w, r, s, http.StatusOK, defaultShipmentForm(), "")
}

func defaultShipmentForm() shipmentForm {
	return shipmentForm{Window: "any", Rule: "lower_version", Attempts: "3"}
}

func (c *Console) renderFirmware(w http.ResponseWriter, r *http.Request, s *session, status int, form shipmentForm, errMsg string) {
	c.renderFirmwareUpload(w, r, s, status, form, errMsg, uploadForm{})
}

func (c *Console) renderFirmwareUpload(w http.ResponseWriter, r *http.Request, s *session, status int, form shipmentForm, errMsg string, up uploadForm) {
	if !c.canFirmware(s) {
		c.forbidden(w, r, s)
		return
	}
	sh, _, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d := firmwareData{CanEdit: s.perms.Has(tenancy.ProductEdit), Form: form, Upload: up, MaxImage: byteSize(c.ota.MaxImageBytes()),
		MaxImageBytes: c.ota.MaxImageBytes()}
	tl, err := c.svc.Templates(r.Context(), s.actor, s.actor.OrgID, tenancy.Page{Size: tenancy.MaxPageSize})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	byID := map[ota.FirmwareID]ota.Firmware{}
	for _, t := range tl.Items {
		fws, err := c.ota.Firmwares(r.Context(), s.actor, t.ID)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		d.Groups = append(d.Groups, firmwareGroup{Template: t, Firmware: fws})
		for _, f := range fws {
			byID[f.ID] = f
			d.Options = append(d.Options, option{Value: strconv.FormatInt(int64(f.ID), 10),
				Label: fmt.Sprintf("%s %s (%s)", t.Def.Name, f.Version, f.Name)})
		}
	}
	shs, err := c.ota.Shipments(r.Context(), s.actor)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for _, x := range shs {
		d.Shipments = append(d.Shipments, shipmentRow{Shipment: x, Firmware: byID[x.FirmwareID]})
	}
	v := view{Title: "Firmware", Nav: "firmware", Shell: sh, Data: d, Error: errMsg, Scripts: []string{"firmware.js"}}
	if r.URL.Query().Get("done") == "upload" {
		v.Notice = "The image is uploaded and listed under its template."
	}
	c.render(w, r, status, "firmware", v)
}

// firmwareUpload is POST /firmware/upload: a multipart form with the
// template and the .bin, read as a stream (the file bounded by the image
// limit, 413 beyond) and checked by the OTA service (its tag must name
// the template).
func (c *Console) firmwareUpload(w http.ResponseWriter, r *http.Request, s *session) {
	if !c.canFirmware(s) {
		c.forbidden(w, r, s)
		return
	}
	max := c.ota.MaxImageBytes()
	var up uploadForm
	var name string
	var image []byte
	fail := func(status int, msg string) {
		up.Error = msg
		c.renderFirmwareUpload(w, r, s, status, defaultShipmentForm(), "", up)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		fail(http.StatusBadRequest, "Choose a template and a .bin file.")
		return
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if tooLarge(err) {
				fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("The image is larger than the limit of %s.", byteSize(max)))
				return
			}
			fail(http.StatusBadRequest, "The upload was cut short; try again.")
			return
		}
		switch p.FormName() {
		case "template":
			b, err := io.ReadAll(io.LimitReader(p, 256))
			if err != nil {
				fail(http.StatusBadRequest, "The upload was cut short; try again.")
				return
			}
			up.Template = strings.TrimSpace(string(b))
		case "file":
			name = p.FileName()
			image, err = io.ReadAll(io.LimitReader(p, max+1))
			if int64(len(image)) > max || tooLarge(err) {
				fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("The image is larger than the limit of %s.", byteSize(max)))
				return
			}
			if err != nil {
				fail(http.StatusBadRequest, "The upload was cut short; try again.")
				return
			}
		}
		p.Close()
	}
	if up.Template == "" || image == nil {
		fail(http.StatusBadRequest, "Choose a template and a .bin file.")
		return
	}
	if _, err := c.ota.Upload(r.Context(), s.actor, tenancy.TemplateID(up.Template), name, image); err != nil {
		switch tenancy.CodeOf(err) {
		case tenancy.Invalid, tenancy.NotFound:
			fail(http.StatusBadRequest, message(err)) // the service's reason: a tag that names another template, no tag…
		default:
			c.fail(w, r, s, err)
		}
		return
	}
	http.Redirect(w, r, "/firmware?done=upload", http.StatusSeeOther)
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// byteSize renders a limit for people: "16 MiB", "64 KiB", "900 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// shipmentCreate is POST /firmware/shipments.
func (c *Console) shipmentCreate(w http.ResponseWriter, r *http.Request, s *session) {
	form := shipmentForm{Name: strings.TrimSpace(r.PostFormValue("name")), Window: r.PostFormValue("window"),
		Rule: r.PostFormValue("rule"), Attempts: r.PostFormValue("attempts"), UserControlled: r.PostFormValue("user") == "on"}
	if !c.canFirmware(s) {
		c.forbidden(w, r, s)
		return
	}
	fw, _ := strconv.ParseInt(r.PostFormValue("firmware"), 10, 64)
	attempts, err := strconv.Atoi(form.Attempts)
	if err != nil {
		c.renderFirmware(w, r, s, http.StatusBadRequest, form, "Attempts must be a number from 1 to 100.")
		return
	}
	sh, err := c.ota.CreateShipment(r.Context(), s.actor, ota.NewShipment{Name: form.Name, FirmwareID: ota.FirmwareID(fw),
		Window: ota.Window(form.Window), Rule: ota.Rule(form.Rule), Attempts: attempts, UserControlled: form.UserControlled})
	if err != nil {
		switch tenancy.CodeOf(err) {
		case tenancy.Invalid, tenancy.Conflict, tenancy.NotFound:
			msg := "The shipment could not be created."
			var te *tenancy.Error
			if errors.As(err, &te) {
				msg = te.Message // coded errors carry a message safe to show
			}
			if tenancy.CodeOf(err) == tenancy.Conflict {
				msg = "A shipment with this name exists already."
			}
			c.renderFirmware(w, r, s, http.StatusBadRequest, form, msg)
		default:
			c.fail(w, r, s, err)
		}
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/firmware/shipments/%d", sh.ID), http.StatusSeeOther)
}

type shipmentData struct {
	Shipment ota.Shipment
	Firmware ota.Firmware
	Rows     []shipmentDevice
	Counts   []statusCount
	CanEdit  bool
}

// shipmentDevice is a device of the status table; CanApprove offers the
// Approve button (a user-controlled shipment, the device awaiting its
// approval, and a user who may control the device).
type shipmentDevice struct {
	ota.Row
	CanApprove bool
}

type statusCount struct {
	Status ota.Status
	N      int
}

func (c *Console) shipmentID(r *http.Request) (ota.ShipmentID, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return ota.ShipmentID(id), err == nil && id > 0
}

// shipmentPage is GET /firmware/shipments/{id}.
func (c *Console) shipmentPage(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.shipmentID(r)
	if !ok || !c.canFirmware(s) {
		c.notFound(w, r, s)
		return
	}
	sh, _, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	x, rows, err := c.ota.Statuses(r.Context(), s.actor, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	fw, err := c.ota.Firmware(r.Context(), s.actor, x.FirmwareID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := shipmentData{Shipment: x, Firmware: fw, CanEdit: s.perms.Has(tenancy.ProductEdit) && x.State != ota.Cancelled}
	counts := map[ota.Status]int{}
	for _, row := range rows {
		counts[row.Status]++
		d.Rows = append(d.Rows, shipmentDevice{Row: row, CanApprove: x.UserControlled && x.State != ota.Cancelled &&
			row.Status == ota.AwaitingUser && !row.Approved && s.mayControl(row.Device)})
	}
	for _, st := range []ota.Status{ota.Success, ota.Pending, ota.AwaitingUser, ota.RequestSent, ota.FirmwareRequest, ota.Downloaded,
		ota.UploadFailure, ota.Rollback, ota.TypeMismatch, ota.VersionMismatch, ota.DownloadLimit, ota.AlreadyUpToDate} {
		if counts[st] > 0 {
			d.Counts = append(d.Counts, statusCount{st, counts[st]})
		}
	}
	v := view{Title: x.Name, Nav: "firmware", Shell: sh, Data: d, Scripts: adminScripts} // admin.js: cancel asks first
	switch r.URL.Query().Get("done") {
	case "pause":
		v.Notice = "The shipment is paused: no device is offered the update until you resume it."
	case "resume":
		v.Notice = "The shipment is live again."
	case "cancel":
		v.Notice = "The shipment is cancelled; the sites stop offering it."
	case "approve":
		v.Notice = "Approved: the device is offered the update at its next chance, whatever the preferred time."
	}
	c.render(w, r, http.StatusOK, "shipment", v)
}

// shipmentAction is POST /firmware/shipments/{id}/{pause,resume,cancel}.
func (c *Console) shipmentAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.shipmentID(r)
	act := ota.Action(r.PathValue("action"))
	if !ok || !c.canFirmware(s) || (act != ota.Pause && act != ota.Resume && act != ota.Cancel) {
		c.notFound(w, r, s)
		return
	}
	if _, err := c.ota.Change(r.Context(), s.actor, id, act); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/firmware/shipments/%d?done=%s", id, act), http.StatusSeeOther)
}

// shipmentReport is GET /firmware/shipments/{id}/report.csv.
func (c *Console) shipmentReport(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.shipmentID(r)
	if !ok || !c.canFirmware(s) {
		c.notFound(w, r, s)
		return
	}
	_, rows, err := c.ota.Statuses(r.Context(), s.actor, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="shipment-%d.csv"`, id))
	if err := ota.WriteCSV(w, rows); err != nil {
		c.log.Warn("shipment report", "err", err)
	}
}

// mayControl is the Approve rule of the OTA service: the device's owner
// with OWN_DEVICES_CONTROL, anyone else with ORG_DEVICES_CONTROL.
func (s *session) mayControl(d tenancy.Device) bool {
	perm := tenancy.OrgDevicesControl
	if d.OwnerID != 0 && d.OwnerID == s.actor.UserID {
		perm = tenancy.OwnDevicesControl
	}
	return s.can(perm, tenancy.Resource{OrgID: d.OrgID, OwnerID: d.OwnerID})
}

// shipmentApprove is POST /firmware/shipments/{id}/approve with the
// device's id, from the shipment's page or (back=device) the device's:
// the OTA service decides (it needs the right to control the device, not
// the firmware pages, so a device's owner in a client organization may).
func (c *Console) shipmentApprove(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.shipmentID(r)
	dev, err := strconv.ParseInt(r.PostFormValue("device"), 10, 64)
	if !ok || err != nil || dev <= 0 || c.ota == nil {
		c.notFound(w, r, s)
		return
	}
	if err := c.ota.Approve(r.Context(), s.actor, id, tenancy.DeviceID(dev)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if r.PostFormValue("back") == "device" {
		http.Redirect(w, r, fmt.Sprintf("/devices/%d?done=approve", dev), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/firmware/shipments/%d?done=approve", id), http.StatusSeeOther)
}

// awaitingApproval lists the updates of device dev the user may approve
// (for the device page); a failure only leaves them out.
func (c *Console) awaitingApproval(r *http.Request, s *session, dev tenancy.DeviceID) []ota.Shipment {
	if c.ota == nil {
		return nil
	}
	l, err := c.ota.AwaitingApproval(r.Context(), s.actor, dev)
	if err != nil {
		c.log.WarnContext(r.Context(), "firmware updates awaiting approval", "device", dev, "err", err)
	}
	return l
}
