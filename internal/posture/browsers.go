package posture

import (
	"context"

	"github.com/healthgate/healthgate/evidence"
)

// Collect is a placeholder until the browser-extension collector lands.
func (browserCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupBrowsers)
}
