package tenancy

import "context"

// DeviceTemplate returns a device the actor may see with its template:
// what a viewer needs to show the device's datastreams, which does not
// require PRODUCT_VIEW (the template catalogue).
func (s *Service) DeviceTemplate(ctx context.Context, a Actor, id DeviceID) (Device, Template, error) {
	d, err := s.Device(ctx, a, id)
	if err != nil {
		return Device{}, Template{}, err
	}
	t, err := s.store.GetTemplate(ctx, d.TemplateID)
	if errIs(err, NotFound) {
		return d, Template{ID: d.TemplateID}, nil // a device outlives nothing, but show it anyway
	}
	if err != nil {
		return Device{}, Template{}, internal("get template", err)
	}
	return d, t, nil
}
