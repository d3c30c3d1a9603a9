package platformapi

import (
	_ "embed"
	"net/http"
)

// openapiDoc is the OpenAPI 3 description of every route in routeTable.
//
//go:embed openapi.json
var openapiDoc []byte

// openapi serves the document.
func (a *API) openapi(c *call) error {
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	_, err := c.w.Write(openapiDoc)
	return err
}
