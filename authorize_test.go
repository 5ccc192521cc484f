package clientreg_test

import (
	"net/http"

	"github.com/clientreg/clientreg"
)

// withCodeFlow turns the authorization endpoint on, with an Authorizer
// that answers every request with a login page and never completes.
func withCodeFlow(c *clientreg.Config) {
	c.Authorizer = clientreg.AuthorizerFunc(func(w http.ResponseWriter, _ *http.Request, _ *clientreg.AuthorizationRequest) {
		w.WriteHeader(http.StatusOK)
	})
}
